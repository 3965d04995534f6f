//! The search tree of [`super::Mcts`]: decision and chance nodes in two arenas, selection by
//! lower confidence bound and Bellman backups (the math is in the parent module's docs).

use crate::error::AgentError;
use crate::risk::Risk;

/// Index of the root decision node.
pub(super) const ROOT: usize = 0;

/// A history `(a_0, z_0, …, a_{t−1}, z_{t−1})` and its predicted state `ŝ_t`.
#[derive(Debug, Clone)]
pub(super) struct Decision {
    pub depth: usize,
    /// The chance node above (none for the root).
    pub parent: Option<usize>,
    /// The latent value `z_{t−1}` that led here.
    pub z: u32,
    /// Predicted state `ŝ_t [D]` (`s0` at the root).
    pub state: Vec<f32>,
    /// `V`: the cost of the default continuation until expanded, then `min` over children.
    pub value: f32,
    pub rejected: bool,
    pub visits: u32,
    /// Chance nodes, one per action in action order (empty until expanded).
    pub children: Vec<usize>,
    /// No selectable leaf below (terminal, fully expanded, or selected and pending).
    pub closed: bool,
}

/// An action taken at a decision node, before the latent outcome.
#[derive(Debug, Clone)]
pub(super) struct Chance {
    pub parent: usize,
    pub action: usize,
    /// `q(z | ŝ_t, a) [K]`.
    pub prior: Vec<f32>,
    /// Decision nodes, one per latent value.
    pub children: Vec<usize>,
    /// `Q = ρ(children's V, prior)`.
    pub value: f32,
    pub rejected: bool,
    pub visits: u32,
    pub closed: bool,
}

/// Both arenas, the latent count `K`, the risk `ρ`, the horizon `h` and the range of leaf
/// costs seen (for the confidence bound's scale).
#[derive(Debug, Clone)]
pub(super) struct Tree {
    pub decisions: Vec<Decision>,
    pub chances: Vec<Chance>,
    pub k: usize,
    risk: Risk,
    h: usize,
    lo: f32,
    hi: f32,
}

/// `(rejected, value)` ranks first for the lexicographic minimum.
fn better(a: (bool, f32), b: (bool, f32)) -> bool {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).is_lt()
}

impl Tree {
    /// A tree holding the unexpanded root at `s0`.
    pub fn new(s0: Vec<f32>, k: usize, risk: Risk, h: usize) -> Self {
        let root = Decision {
            depth: 0,
            parent: None,
            z: 0,
            state: s0,
            value: f32::NAN,
            rejected: false,
            visits: 0,
            children: Vec::new(),
            closed: h == 0,
        };
        Tree {
            decisions: vec![root],
            chances: Vec::new(),
            k,
            risk,
            h,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
        }
    }

    /// Walk from the root to an open unexpanded decision node, counting a (virtual) visit on
    /// every node passed, and close that leaf until it is expanded. `None` when no open leaf
    /// is left. `weights(prior)` are the chance nodes' selection weights `w_z`.
    pub fn select(&mut self, c: f32, weights: &dyn Fn(&[f32]) -> Vec<f32>) -> Option<usize> {
        if self.decisions[ROOT].closed {
            return None;
        }
        let mut d = ROOT;
        loop {
            self.decisions[d].visits += 1;
            if self.decisions[d].children.is_empty() {
                self.decisions[d].closed = true;
                self.refresh_up(d);
                return Some(d);
            }
            let ch = self.lowest_bound(d, c);
            self.chances[ch].visits += 1;
            let node = &self.chances[ch];
            let w = weights(&node.prior);
            let z = (0..node.children.len())
                .filter(|&z| !self.decisions[node.children[z]].closed)
                .max_by(|&i, &j| {
                    let si = w[i] / (1.0 + self.decisions[node.children[i]].visits as f32);
                    let sj = w[j] / (1.0 + self.decisions[node.children[j]].visits as f32);
                    si.total_cmp(&sj).then(j.cmp(&i))
                })
                .expect("an open chance node has an open child");
            d = node.children[z];
        }
    }

    /// The open chance child of `d` minimising `q̃(a) − c·√(ln N / n_a)`.
    fn lowest_bound(&self, d: usize, c: f32) -> usize {
        let node = &self.decisions[d];
        let ln_n = (node.visits.max(1) as f32).ln();
        let span = self.hi - self.lo;
        let score = |ch: usize| {
            let x = &self.chances[ch];
            let q = if span > 0.0 {
                (x.value - self.lo) / span
            } else {
                0.0
            };
            let q = q + if x.rejected { 1.0 } else { 0.0 };
            q - c * (ln_n / x.visits.max(1) as f32).sqrt()
        };
        node.children
            .iter()
            .copied()
            .filter(|&ch| !self.chances[ch].closed)
            .min_by(|&i, &j| score(i).total_cmp(&score(j)).then(i.cmp(&j)))
            .expect("an open expanded decision node has an open child")
    }

    /// Add to leaf `l` the chance node of `action` with `prior [K]` and its `K` decision
    /// children `(ŝ_{t+1}, leaf cost, rejected)`.
    pub fn add_chance(
        &mut self,
        l: usize,
        action: usize,
        prior: Vec<f32>,
        children: Vec<(Vec<f32>, f32, bool)>,
    ) -> Result<(), AgentError> {
        let (ch, depth) = (self.chances.len(), self.decisions[l].depth + 1);
        let mut ids = Vec::with_capacity(children.len());
        for (z, (state, value, rejected)) in children.into_iter().enumerate() {
            (self.lo, self.hi) = (self.lo.min(value), self.hi.max(value));
            ids.push(self.decisions.len());
            self.decisions.push(Decision {
                depth,
                parent: Some(ch),
                z: z as u32,
                state,
                value,
                rejected,
                visits: 1,
                children: Vec::new(),
                closed: depth >= self.h,
            });
        }
        self.chances.push(Chance {
            parent: l,
            action,
            prior,
            children: ids,
            value: f32::NAN,
            rejected: false,
            visits: 1,
            closed: false,
        });
        self.refresh_chance(ch)?;
        self.decisions[l].children.push(ch);
        Ok(())
    }

    /// Recompute `Q`, the verdict and `closed` of chance node `ch` from its children.
    fn refresh_chance(&mut self, ch: usize) -> Result<(), AgentError> {
        let node = &self.chances[ch];
        let values: Vec<f32> = node
            .children
            .iter()
            .map(|&d| self.decisions[d].value)
            .collect();
        let value = self.risk.aggregate(&values, &node.prior)?;
        let rejected = node.children.iter().any(|&d| self.decisions[d].rejected);
        let closed = node.children.iter().all(|&d| self.decisions[d].closed);
        let node = &mut self.chances[ch];
        (node.value, node.rejected, node.closed) = (value, rejected, closed);
        Ok(())
    }

    /// Recompute `V`, the verdict and `closed` of expanded decision node `d`.
    fn refresh_decision(&mut self, d: usize) {
        if let Some(best) = self.best_chance(d) {
            let (value, rejected) = (self.chances[best].value, self.chances[best].rejected);
            let node = &self.decisions[d];
            let closed = node.children.iter().all(|&c| self.chances[c].closed);
            let node = &mut self.decisions[d];
            (node.value, node.rejected, node.closed) = (value, rejected, closed);
        }
    }

    /// Bellman backup from the freshly expanded node `l` to the root.
    pub fn backup(&mut self, l: usize) -> Result<(), AgentError> {
        self.refresh_decision(l);
        let mut d = l;
        while let Some(ch) = self.decisions[d].parent {
            self.refresh_chance(ch)?;
            d = self.chances[ch].parent;
            self.refresh_decision(d);
        }
        Ok(())
    }

    /// Propagate `closed` from `d` to the root (after closing a selected leaf).
    fn refresh_up(&mut self, mut d: usize) {
        while let Some(ch) = self.decisions[d].parent {
            let closed = self.chances[ch]
                .children
                .iter()
                .all(|&x| self.decisions[x].closed);
            self.chances[ch].closed = closed;
            d = self.chances[ch].parent;
            let closed = self.decisions[d]
                .children
                .iter()
                .all(|&x| self.chances[x].closed);
            self.decisions[d].closed = closed;
        }
    }

    /// The chance child of `d` with the best `(rejected, Q)` (ties: the earlier action).
    pub fn best_chance(&self, d: usize) -> Option<usize> {
        let mut best: Option<usize> = None;
        for &c in &self.decisions[d].children {
            let key = (self.chances[c].rejected, self.chances[c].value);
            if best.is_none_or(|b| better(key, (self.chances[b].rejected, self.chances[b].value))) {
                best = Some(c);
            }
        }
        best
    }

    /// The most probable latent value of chance node `ch` (ties: the smaller `z`).
    pub fn most_probable(&self, ch: usize) -> usize {
        let p = &self.chances[ch].prior;
        (0..p.len())
            .max_by(|&i, &j| p[i].total_cmp(&p[j]).then(j.cmp(&i)))
            .unwrap_or(0)
    }

    /// The history of decision node `d`: actions `a_0..a_{t−1}` and latents `z_0..z_{t−1}`.
    pub fn history(&self, mut d: usize) -> (Vec<usize>, Vec<u32>) {
        let (mut acts, mut zs) = (Vec::new(), Vec::new());
        while let Some(ch) = self.decisions[d].parent {
            acts.push(self.chances[ch].action);
            zs.push(self.decisions[d].z);
            d = self.chances[ch].parent;
        }
        acts.reverse();
        zs.reverse();
        (acts, zs)
    }
}
