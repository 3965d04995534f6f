//! Escape from a move the world model believes in and the world refuses: a wrapper around any
//! [`Planner`] (flat or hierarchical) that notices an agent which does not move and steps it
//! away from the blocked action.
//!
//! Walls stop the agent without sliding, and a learned model is least precise at walls: it
//! can believe that a door jamb's corner can be cut. The planner then keeps choosing the same
//! blocked move from the same state, and re-planning does not help because nothing changed.
//!
//! **Frozen.** After a planning call whose plan predicted the executed actions to carry the
//! state from `s` to `ŝ_k` (`k` = the actions [`Planner::shift`] reports as executed), the
//! agent is *frozen* at the next call from `s'` when `‖s' − s‖ < 0.1 · ‖ŝ_k − s‖`: the model
//! expected a move and less than a tenth of it happened. A plan that expected no move (a stop,
//! an actor that does not imagine) never counts.
//!
//! **Escape.** After `calls` frozen calls in a row, the whole plan becomes the blocked action
//! `a` (the first action executed from `s`) turned away from itself, at the same norm: by
//! `θ_j = 90° + 180° · frac(j · 0.618)` at the `j`-th escape of the episode when `A = 2` (the
//! golden-ratio sequence turns each escape by another angle, all at least 90° from `a`), the
//! reverse `−a` otherwise. It is taken only when the planner's own plan was safe and the
//! escape's imagined rollout violates no guardrail ([`Cost::violations`]), so an escape never
//! weakens the guardrails.

use crate::cost::{Cost, RolloutBatch};
use crate::error::AgentError;
use crate::planner::{Plan, Planner};
use crate::world_model::WorldModel;

/// Fraction of the predicted move below which the agent counts as not having moved.
const FROZEN_FRACTION: f32 = 0.1;

/// The step of the golden-ratio angle sequence of successive escapes.
const GOLDEN: f32 = 0.618_034;

/// What the previous call planned: its start, the first action and the predicted states.
struct Previous {
    start: Vec<f32>,
    first_action: Vec<f32>,
    predicted: Vec<f32>,
    /// Actions executed since (from [`Planner::shift`]; 0 before the first shift).
    executed: usize,
}

/// A [`Planner`] that escapes after `calls` planning calls without moving (module docs).
pub struct Escape {
    inner: Box<dyn Planner>,
    calls: usize,
    prev: Option<Previous>,
    frozen: usize,
    escapes: usize,
}

impl std::fmt::Debug for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escape")
            .field("calls", &self.calls)
            .field("frozen", &self.frozen)
            .field("escapes", &self.escapes)
            .finish()
    }
}

impl Escape {
    /// `inner` escapes after `calls ≥ 1` frozen calls in a row (`agent.escape_calls`).
    pub fn new(inner: Box<dyn Planner>, calls: usize) -> Result<Self, AgentError> {
        if calls == 0 {
            return Err(AgentError::config(
                "agent.escape_calls",
                0,
                ">= 1 to escape (leave the wrapper out for 0)",
            ));
        }
        Ok(Escape {
            inner,
            calls,
            prev: None,
            frozen: 0,
            escapes: 0,
        })
    }

    /// Escapes made since the last [`Planner::reset`].
    pub fn escapes(&self) -> usize {
        self.escapes
    }

    /// Whether the agent, now at `s0`, moved less than [`FROZEN_FRACTION`] of what the
    /// previous plan predicted for the actions executed since.
    fn is_frozen(&self, s0: &[f32]) -> bool {
        let Some(p) = &self.prev else {
            return false;
        };
        let d = s0.len();
        if p.executed == 0 || p.start.len() != d || p.predicted.len() < p.executed * d {
            return false;
        }
        let at = &p.predicted[(p.executed - 1) * d..p.executed * d];
        let expected = dist(at, &p.start);
        let moved = dist(s0, &p.start);
        expected > 0.0 && moved < FROZEN_FRACTION * expected
    }

    /// The escape plan (module docs), or `None` when the blocked action is a stop, the
    /// planned plan is unsafe, or the escape's imagined rollout violates a guardrail.
    fn escape(
        &mut self,
        s0: &[f32],
        blocked: &[f32],
        planned: &Plan,
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Option<Plan>, AgentError> {
        let norm = blocked.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !planned.safe || !norm.is_finite() || norm <= 1e-6 {
            return Ok(None);
        }
        let a = blocked.len();
        let turned: Vec<f32> = if a == 2 {
            let th = std::f32::consts::PI * (0.5 + (self.escapes as f32 * GOLDEN).fract());
            let (c, s) = (th.cos(), th.sin());
            vec![
                c * blocked[0] - s * blocked[1],
                s * blocked[0] + c * blocked[1],
            ]
        } else {
            blocked.iter().map(|x| -x).collect()
        };
        self.escapes += 1;
        let h = planned.actions.len() / a.max(1);
        let actions: Vec<f32> = (0..h).flat_map(|_| turned.iter().copied()).collect();
        let states = model.rollout(s0, &actions, 1, h)?;
        let d = model.state_dim();
        let batch = RolloutBatch::new(&states, &actions, (1, h), (d, a))?.with_start(s0)?;
        if cost.violations(&batch)?[0] {
            return Ok(None);
        }
        let total = cost.evaluate(&batch)?[0];
        Ok(Some(Plan {
            actions,
            predicted_states: states,
            cost: total,
            cost_breakdown: Vec::new(),
            iterations: 0,
            safe: true,
        }))
    }
}

fn dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

impl Planner for Escape {
    fn plan(
        &mut self,
        s0: &[f32],
        cost: &Cost,
        model: &dyn WorldModel,
    ) -> Result<Plan, AgentError> {
        if self.is_frozen(s0) {
            self.frozen += 1;
        } else {
            self.frozen = 0;
        }
        let mut plan = self.inner.plan(s0, cost, model)?;
        if self.frozen >= self.calls {
            let blocked = self
                .prev
                .as_ref()
                .map(|p| p.first_action.clone())
                .unwrap_or_default();
            if let Some(escape) = self.escape(s0, &blocked, &plan, cost, model)? {
                plan = escape;
                self.frozen = 0;
            }
        }
        let a = model.action_dim().min(plan.actions.len());
        self.prev = Some(Previous {
            start: s0.to_vec(),
            first_action: plan.actions[..a].to_vec(),
            predicted: plan.predicted_states.clone(),
            executed: 0,
        });
        Ok(plan)
    }

    fn shift(&mut self, k: usize) {
        if let Some(p) = &mut self.prev {
            p.executed += k;
        }
        self.inner.shift(k);
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.prev = None;
        self.frozen = 0;
        self.escapes = 0;
    }

    fn warm_start(&mut self, actions: &[f32], act_dim: usize) -> Result<(), AgentError> {
        self.inner.warm_start(actions, act_dim)
    }

    fn horizon(&self) -> usize {
        self.inner.horizon()
    }

    fn subgoal(&self) -> Option<&[f32]> {
        self.inner.subgoal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{CostKind, CostTerm, FixedCost, GoalDistance};

    /// Always plans the same action twice and predicts its move `s' = s + a`.
    struct Constant([f32; 2]);

    impl Planner for Constant {
        fn plan(&mut self, s0: &[f32], _c: &Cost, _m: &dyn WorldModel) -> Result<Plan, AgentError> {
            let [x, y] = self.0;
            Ok(Plan {
                actions: vec![x, y, x, y],
                predicted_states: vec![s0[0] + x, s0[1] + y, s0[0] + 2.0 * x, s0[1] + 2.0 * y],
                cost: 0.0,
                cost_breakdown: Vec::new(),
                iterations: 1,
                safe: true,
            })
        }
        fn shift(&mut self, _k: usize) {}
        fn reset(&mut self) {}
        fn horizon(&self) -> usize {
            2
        }
    }

    /// Plans `+x`.
    const PUSHING: Constant = Constant([1.0, 0.0]);

    /// Plans a stop and predicts no move.
    const STOPPING: Constant = Constant([0.0, 0.0]);

    /// `s' = s + a`.
    struct Moves;

    impl WorldModel for Moves {
        fn state_dim(&self) -> usize {
            2
        }
        fn action_dim(&self) -> usize {
            2
        }
        fn rollout(
            &self,
            s0: &[f32],
            a: &[f32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            let mut out = Vec::with_capacity(n * h * 2);
            for i in 0..n {
                let mut s = s0.to_vec();
                for t in 0..h {
                    s[0] += a[(i * h + t) * 2];
                    s[1] += a[(i * h + t) * 2 + 1];
                    out.extend_from_slice(&s);
                }
            }
            Ok(out)
        }
    }

    /// Guardrail: any state with `y > 0.5`.
    struct YAbove;

    impl CostTerm for YAbove {
        fn name(&self) -> &str {
            "y_above"
        }
        fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
            (0..b.n())
                .map(|i| (0..b.h()).filter(|&t| b.state(i, t)[1] > 0.5).count() as f32)
                .collect()
        }
    }

    fn costs() -> (Cost, Cost) {
        let goal = vec![5.0, 0.0];
        let term = || GoalDistance::new(goal.clone()).unwrap();
        let free = Cost::new()
            .with_goal(goal.clone())
            .with_term(CostKind::Task, 1.0, term())
            .unwrap();
        let fixed = FixedCost::builder().guardrail(YAbove).unwrap().build();
        let guarded = Cost::with_fixed(fixed)
            .with_goal(goal.clone())
            .with_term(CostKind::Task, 1.0, term())
            .unwrap();
        (free, guarded)
    }

    fn first(p: &Plan) -> [f32; 2] {
        [p.actions[0], p.actions[1]]
    }

    /// One MPC cycle at a state that never changes (a wall): plan, execute one action.
    fn call(e: &mut Escape, s: &[f32], cost: &Cost) -> Plan {
        let p = e.plan(s, cost, &Moves).unwrap();
        e.shift(1);
        p
    }

    #[test]
    fn an_agent_that_does_not_move_escapes_away_from_its_blocked_action_unless_unsafe() {
        let (free, guarded) = costs();
        let s0 = [0.0, 0.0];
        let mut e = Escape::new(Box::new(PUSHING), 2).unwrap();
        // Frozen at the 2nd and 3rd calls: the 3rd plan is +x turned by 90°, held.
        assert_eq!(first(&call(&mut e, &s0, &free)), [1.0, 0.0]);
        assert_eq!(first(&call(&mut e, &s0, &free)), [1.0, 0.0]);
        let esc = call(&mut e, &s0, &free);
        assert!(esc.actions[0].abs() < 1e-6 && (esc.actions[1] - 1.0).abs() < 1e-6);
        assert_eq!(esc.actions[..2], esc.actions[2..]);
        let want = [0.0, 1.0, 0.0, 2.0];
        for (p, w) in esc.predicted_states.iter().zip(want) {
            assert!((p - w).abs() < 1e-6, "{:?}", esc.predicted_states);
        }
        assert_eq!(e.escapes(), 1);
        // The escape predicted +y and nothing moved: frozen again from the next call, the
        // count starts again, and the next escape turns +x by another angle, still away.
        assert_eq!(first(&call(&mut e, &s0, &free)), [1.0, 0.0]);
        let [x, y] = first(&call(&mut e, &s0, &free));
        assert!((x.hypot(y) - 1.0).abs() < 1e-5 && x < 0.0, "({x}, {y})");
        // Having moved as predicted, no escape.
        let mut e = Escape::new(Box::new(PUSHING), 2).unwrap();
        for i in 0..5 {
            let s = [i as f32, 0.0];
            assert_eq!(first(&call(&mut e, &s, &free)), [1.0, 0.0]);
        }
        // Moving a twentieth of the prediction is frozen; half of it is not.
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        call(&mut e, &s0, &free);
        assert_eq!(first(&call(&mut e, &[0.5, 0.0], &free)), [1.0, 0.0]);
        let esc = call(&mut e, &[0.55, 0.0], &free);
        assert!(esc.actions[0].abs() < 1e-6, "{:?}", esc.actions);
        // An escape the guardrail forbids (+y) is not taken; a later one (−y side) is.
        let mut e = Escape::new(Box::new(PUSHING), 2).unwrap();
        for _ in 0..3 {
            assert_eq!(first(&call(&mut e, &s0, &guarded)), [1.0, 0.0]);
        }
        let [x, y] = first(&call(&mut e, &s0, &guarded));
        assert!(x < 0.0 && y < 0.0, "({x}, {y})");
    }

    #[test]
    fn a_plan_that_expects_no_move_never_counts_as_frozen_and_reset_forgets() {
        let (free, _) = costs();
        let s0 = [0.0, 0.0];
        let mut e = Escape::new(Box::new(STOPPING), 1).unwrap();
        for _ in 0..5 {
            assert_eq!(first(&call(&mut e, &s0, &free)), [0.0, 0.0]);
        }
        assert_eq!(e.escapes(), 0);
        // Without a shift (nothing executed) there is nothing to compare with.
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        for _ in 0..3 {
            assert_eq!(first(&e.plan(&s0, &free, &Moves).unwrap()), [1.0, 0.0]);
        }
        // Reset forgets the previous call: the first call after it never escapes.
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        call(&mut e, &s0, &free);
        e.reset();
        assert_eq!(first(&call(&mut e, &s0, &free)), [1.0, 0.0]);
        assert!(call(&mut e, &s0, &free).actions[0].abs() < 1e-6);
        assert_eq!(e.escapes(), 1);
    }

    /// Plans `+x` and imagines nothing (an actor without a world model).
    struct Blind;

    impl Planner for Blind {
        fn plan(
            &mut self,
            _s0: &[f32],
            _c: &Cost,
            _m: &dyn WorldModel,
        ) -> Result<Plan, AgentError> {
            Ok(Plan {
                actions: vec![1.0, 0.0, 1.0, 0.0],
                predicted_states: Vec::new(),
                cost: f32::NAN,
                cost_breakdown: Vec::new(),
                iterations: 0,
                safe: true,
            })
        }
        fn shift(&mut self, _k: usize) {}
        fn reset(&mut self) {}
        fn horizon(&self) -> usize {
            2
        }
    }

    #[test]
    fn the_comparison_uses_the_predicted_state_after_the_executed_actions() {
        let (free, _) = costs();
        let s0 = [0.0, 0.0];
        // The whole plan executed (shift by its horizon): compared with its last state.
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        e.plan(&s0, &free, &Moves).unwrap();
        e.shift(2);
        assert!(e.plan(&s0, &free, &Moves).unwrap().actions[0].abs() < 1e-6);
        // Having moved 0.15: frozen against the 2.0 predicted after two actions
        // (0.15 < 0.1 · 2.0), not against the 1.0 predicted after one (0.15 ≥ 0.1 · 1.0).
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        e.plan(&s0, &free, &Moves).unwrap();
        e.shift(2);
        assert!(e.plan(&[0.15, 0.0], &free, &Moves).unwrap().actions[0].abs() < 1e-6);
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        e.plan(&s0, &free, &Moves).unwrap();
        e.shift(1);
        assert_eq!(
            first(&e.plan(&[0.15, 0.0], &free, &Moves).unwrap()),
            [1.0, 0.0]
        );
    }

    #[test]
    fn nothing_imagined_or_more_executed_than_planned_never_counts() {
        let (free, _) = costs();
        let s0 = [0.0, 0.0];
        let mut e = Escape::new(Box::new(Blind), 1).unwrap();
        for _ in 0..4 {
            assert_eq!(first(&call(&mut e, &s0, &free)), [1.0, 0.0]);
        }
        let mut e = Escape::new(Box::new(PUSHING), 1).unwrap();
        for _ in 0..4 {
            let p = e.plan(&s0, &free, &Moves).unwrap();
            assert_eq!(first(&p), [1.0, 0.0]);
            e.shift(3);
        }
        assert_eq!(e.escapes(), 0);
    }

    #[test]
    fn zero_calls_is_an_error_naming_the_key() {
        let err = Escape::new(Box::new(PUSHING), 0).unwrap_err().to_string();
        assert!(err.contains("agent.escape_calls"), "{err}");
    }
}
