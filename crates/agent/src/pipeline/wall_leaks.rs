//! `ami experiment wall-leaks`: does a trained world model walk through walls in its
//! imagination, and how deep into a rollout does it start?
//!
//! For PLDM's two-rooms (`pldm`, one fixed layout) and EB-JEPA's `random-wall` (a layout per
//! episode). For each of `episodes` tasks of a split, from the task's start observation, the
//! world model rolls out `walks` persistent random walks of `steps` actions — the walks the
//! imagined-walk planner explores with (`hierarchy.imagined.speed`, `turn`;
//! [`crate::planner::random_walks`]) — and the run's state probe (`probe.json`)
//! decodes the position `p̂_t = (x̂, ŷ)` of every imagined state. The same actions are then
//! played in the environment itself from the same start (its evaluation dynamics, each held
//! for `agent.action_repeat` steps as the model and the episode loop hold it), giving the
//! real positions `p_t`.
//!
//! A path **crosses** the central wall at its first step `t` with
//! `sign(x_t − wall_x) ≠ sign(x_0 − wall_x)` and `|x_t − wall_x| ≥ 1 + margin` (the wall is
//! `x ∈ [wall_x − 1, wall_x + 1]`: the path is `margin` px clear of it on the other side). The
//! crossing is **through the door** when the path's `y` where it passes the wall's centre line
//! (linear between the two steps around it) is within `door_y ± (4 + margin)` (the door is
//! `y ∈ (door_y − 4, door_y + 4)`), else it is a **leak**: the path went through the wall. Real
//! paths cannot leak (a real crossing is the world's own), so every imagined leak is an
//! imagined future the world does not allow; real crossings count how often the walks truly
//! reach the other room.
//!
//! The report gives the counts, the leaks per imagined door crossing, and per step `t` the
//! crossings made by then (cumulative) and the mean position error `‖p̂_t − p_t‖` — how the
//! imagination drifts from the world with depth, beside the depth the model was trained to
//! predict (`train.rollout_steps`).

use std::path::Path;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use ami_envs::pldm::{Layout, DOOR_HALF, WALL_HALF};
use ami_io::svg::{render, Panel, Series};

use super::{Progress, Split, TrainedRun};
use crate::error::AgentError;
use crate::planner::random_walks;

/// The measurement's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WallLeaksConfig {
    /// Whose tasks give the starts (default validation: diagnose on these).
    pub split: Split,
    /// Tasks (start observations) measured (default 20).
    pub episodes: usize,
    /// Random walks per start (default 256, the planner's `rollouts`).
    pub walks: usize,
    /// Actions per walk (default 40, the planner's `steps`).
    pub steps: usize,
    /// How far (px) a path must be past the wall's face to count as crossed, and how far
    /// beyond the door's edge a crossing still counts as through it (default 2).
    pub margin: f32,
    /// Seed of the walks (default 0).
    pub seed: u64,
}

impl Default for WallLeaksConfig {
    fn default() -> Self {
        WallLeaksConfig {
            split: Split::Val,
            episodes: 20,
            walks: 256,
            steps: 40,
            margin: 2.0,
            seed: 0,
        }
    }
}

impl WallLeaksConfig {
    /// Checks the settings (errors name the setting).
    pub fn validate(&self) -> Result<(), AgentError> {
        for (k, v) in [
            ("wall-leaks --episodes", self.episodes),
            ("wall-leaks --walks", self.walks),
            ("wall-leaks --steps", self.steps),
        ] {
            if v == 0 {
                return Err(AgentError::config(k, 0, ">= 1"));
            }
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(AgentError::config(
                "wall-leaks --margin",
                self.margin,
                "a finite value >= 0 (px)",
            ));
        }
        Ok(())
    }
}

/// Where a path first crosses the central wall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crossing {
    /// The step `t` (1-based: the position after `t` actions) at which it is past the wall.
    pub step: usize,
    /// Whether it passed through the door (else through the wall: a leak).
    pub door: bool,
}

/// The first crossing of the path `points` (`p_0 … p_h`) through `layout`'s central wall
/// (module docs), or `None` when it stays on its side.
pub fn first_crossing(points: &[[f32; 2]], layout: Layout, margin: f32) -> Option<Crossing> {
    let (wx, dy) = (layout.wall_x, layout.door_y);
    let first = points.first()?;
    let side = (first[0] - wx).signum();
    if side == 0.0 {
        return None;
    }
    let clear = WALL_HALF + margin;
    let t = points.iter().position(|p| (p[0] - wx) * side <= -clear)?;
    // The last step still on the start's side of the centre line, then the first past it:
    // `y` where the segment between them meets `x = wall_x`.
    let k = points[..t]
        .iter()
        .rposition(|p| (p[0] - wx) * side > 0.0)
        .unwrap_or(0);
    // `a` is strictly on the start's side and `b` is not, so `b_x ≠ a_x`.
    let (a, b) = (points[k], points[k + 1]);
    let u = ((wx - a[0]) / (b[0] - a[0])).clamp(0.0, 1.0);
    let y = a[1] + u * (b[1] - a[1]);
    Some(Crossing {
        step: t,
        door: (y - dy).abs() <= DOOR_HALF + margin,
    })
}

/// Crossing counts of a set of paths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Crossings {
    /// Paths that crossed through the door.
    pub door: usize,
    /// Paths that crossed through the wall.
    pub leaks: usize,
}

impl Crossings {
    /// Counts one crossing, through the door or through the wall.
    fn add(&mut self, c: Crossing) {
        if c.door {
            self.door += 1;
        } else {
            self.leaks += 1;
        }
    }
}

/// One step `t` of the report's per-step table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Actions taken.
    pub step: usize,
    /// Imagined paths through the door by step `t` (cumulative).
    pub imagined_door: usize,
    /// Imagined paths through the wall by step `t` (cumulative).
    pub imagined_leaks: usize,
    /// Real paths past the wall by step `t` (cumulative; all through the door unless the
    /// world or the rule is wrong).
    pub real_crossings: usize,
    /// Mean `‖p̂_t − p_t‖` over all walks (px).
    pub position_error: f64,
}

/// What `ami experiment wall-leaks` writes to `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WallLeaksReport {
    /// The run measured.
    pub run: String,
    /// The environment (`pldm` or `random-wall`).
    pub env: String,
    /// `val` or `test`.
    pub split: Split,
    /// Starts measured.
    pub episodes: usize,
    /// Walks per start.
    pub walks: usize,
    /// Actions per walk.
    pub steps: usize,
    /// The crossing margin (px).
    pub margin: f32,
    /// Environment (and predictor) steps per planned action (`agent.action_repeat`).
    pub action_repeat: usize,
    /// The depth the world model was trained to predict, in predictor steps
    /// (`train.rollout_steps`).
    pub train_rollout_steps: usize,
    /// Crossings of the imagined paths.
    pub imagined: Crossings,
    /// Crossings of the real paths (the world allows no leak).
    pub real: Crossings,
    /// Imagined leaks per imagined door crossing (`null` without door crossings).
    pub leaks_per_door_crossing: Option<f64>,
    /// Walks the model imagined crossing (either way) where the world kept the agent on its
    /// side.
    pub imagined_only: usize,
    /// Per step `t = 1 … steps`.
    pub by_step: Vec<StepRow>,
}

/// The layout of `start` in `env` (`pldm`: its fixed layout; `random-wall`: the state's).
fn layout_of(env: &str, start: &[f32]) -> Result<Layout, AgentError> {
    match env {
        "pldm" => Ok(Layout::PLDM),
        "random-wall" => Ok(ami_envs::random_wall::parse_state("task start", start)?.1),
        other => Err(AgentError::config(
            "env.kind",
            other,
            "pldm or random-wall (the wall-leak measurement needs a central wall and door)",
        )),
    }
}

/// Measures the run (module docs), reporting the starts done as phase `wall-leaks`.
pub fn measure(
    run: &TrainedRun,
    cfg: &WallLeaksConfig,
    progress: &dyn Progress,
) -> Result<WallLeaksReport, AgentError> {
    cfg.validate()?;
    let rc = run.config();
    let kind = rc.env.kind();
    let spec = rc.env.spec();
    let probe = run.probe().ok_or_else(|| {
        AgentError::config_source(
            run.root().join("probe.json").display().to_string(),
            "missing: the wall-leak measurement decodes imagined positions with the run's \
             state probe, which `ami train` fits after training",
        )
    })?;
    let tasks = spec.tasks(cfg.episodes, rc.task_seed(cfg.split))?;
    let (h, a, d) = (cfg.steps, run.action_dim(), run.repr_dim());
    let walk = &rc.hierarchy.imagined;
    let len = walk.speed * run.max_action_norm();
    let repeat = rc.agent.action_repeat.max(1);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut env = spec.build()?;
    let mut imagined_only = 0;
    // First crossings at each step `t` (`[0]` stays empty: a path starts on its side).
    let mut at = vec![(Crossings::default(), Crossings::default()); h + 1];
    let mut error = vec![0f64; h + 1];
    progress.start("wall-leaks", tasks.len() as u64);
    for (e, task) in tasks.iter().enumerate() {
        let layout = layout_of(kind, &task.start)?;
        let obs = env.reset_to(&task.start)?;
        let s0 = run.encode(&obs)?;
        let actions = random_walks(&mut rng, cfg.walks, h, a, len, walk.turn);
        let starts: Vec<f32> = (0..cfg.walks).flat_map(|_| s0.iter().copied()).collect();
        let states = run.rollout(&starts, &actions, h)?;
        for (w, acts) in actions.chunks_exact(h * a).enumerate() {
            let dream: Vec<[f32; 2]> = states[w * (h + 1) * d..(w + 1) * (h + 1) * d]
                .chunks_exact(d)
                .map(|s| {
                    let p = probe.decode(s);
                    [p[0], p[1]]
                })
                .collect();
            env.reset_to(&task.start)?;
            let mut world = vec![[task.start[0], task.start[1]]];
            for act in acts.chunks_exact(a) {
                for _ in 1..repeat {
                    env.step(act)?;
                }
                let s = env.step(act)?.state;
                world.push([s[0], s[1]]);
            }
            for (t, (p, q)) in dream.iter().zip(&world).enumerate() {
                error[t] += f64::from(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt());
            }
            let mine = first_crossing(&dream, layout, cfg.margin);
            let truth = first_crossing(&world, layout, cfg.margin);
            if let Some(c) = mine {
                at[c.step].0.add(c);
                if truth.is_none() {
                    imagined_only += 1;
                }
            }
            // The world lets no path through its wall; its leaks are counted anyway, so that
            // a wrong layout or crossing rule shows in the report.
            if let Some(c) = truth {
                at[c.step].1.add(c);
            }
        }
        progress.set(e as u64 + 1, "");
    }
    progress.finish();
    let n = (tasks.len() * cfg.walks) as f64;
    let (mut imagined, mut real) = (Crossings::default(), Crossings::default());
    let by_step = (1..=h)
        .map(|t| {
            let (i, r) = at[t];
            imagined.door += i.door;
            imagined.leaks += i.leaks;
            real.door += r.door;
            real.leaks += r.leaks;
            StepRow {
                step: t,
                imagined_door: imagined.door,
                imagined_leaks: imagined.leaks,
                real_crossings: real.door + real.leaks,
                position_error: error[t] / n,
            }
        })
        .collect();
    Ok(WallLeaksReport {
        run: run.root().display().to_string(),
        env: kind.to_string(),
        split: cfg.split,
        episodes: tasks.len(),
        walks: cfg.walks,
        steps: h,
        margin: cfg.margin,
        action_repeat: repeat,
        train_rollout_steps: rc.train.rollout_steps,
        imagined,
        real,
        leaks_per_door_crossing: (imagined.door > 0)
            .then(|| imagined.leaks as f64 / imagined.door as f64),
        imagined_only,
        by_step,
    })
}

/// The report as a Markdown table (every 5th step and the last).
pub fn table(r: &WallLeaksReport) -> String {
    let mut s = format!(
        "Wall leaks of `{}` ({}, {} {} starts × {} walks of {} actions held {} steps each; \
         trained on {}-step rollouts)\n\n\
         imagined: {} through the door, {} through the wall ({} per door crossing); real: {} \
         through the door ({} through the wall); imagined crossings the world did not make: {}\n\n\
         | step | imagined door | imagined leaks | real crossings | position error (px) |\n\
         |---|---|---|---|---|\n",
        r.run,
        r.env,
        r.episodes,
        r.split.name(),
        r.walks,
        r.steps,
        r.action_repeat,
        r.train_rollout_steps,
        r.imagined.door,
        r.imagined.leaks,
        r.leaks_per_door_crossing
            .map_or("—".into(), |v| format!("{v:.2}")),
        r.real.door,
        r.real.leaks,
        r.imagined_only,
    );
    for row in r
        .by_step
        .iter()
        .filter(|row| row.step % 5 == 0 || row.step == r.steps)
    {
        s += &format!(
            "| {} | {} | {} | {} | {:.2} |\n",
            row.step, row.imagined_door, row.imagined_leaks, row.real_crossings, row.position_error
        );
    }
    s
}

/// Writes `report.json`, `table.md` and `leaks.svg` (cumulative crossings and position error
/// vs step) into `dir`, each atomically.
pub fn write(dir: &Path, r: &WallLeaksReport) -> Result<(), AgentError> {
    let curve = |name: &str, f: &dyn Fn(&StepRow) -> f64| Series {
        name: name.into(),
        points: r
            .by_step
            .iter()
            .map(|row| (row.step as f64, f(row)))
            .collect(),
    };
    let svg = render(
        &[
            Panel {
                title: format!("{}: walks past the wall by step", r.env),
                series: vec![
                    curve("imagined, door", &|row| row.imagined_door as f64),
                    curve("imagined, leak", &|row| row.imagined_leaks as f64),
                    curve("real", &|row| row.real_crossings as f64),
                ],
                log_y: false,
            },
            Panel {
                title: "imagined vs real position (px)".into(),
                series: vec![curve("mean error", &|row| row.position_error)],
                log_y: false,
            },
        ],
        2,
        "actions into the walk",
    );
    super::write_experiment_files(
        dir,
        "report.json",
        r,
        &[("table.md", table(r)), ("leaks.svg", svg)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout {
        wall_x: 30.0,
        door_y: 20.0,
    };

    #[test]
    fn a_path_that_stays_on_its_side_does_not_cross() {
        // Up to the wall's face and margin, but not past it.
        let p = [[20.0, 5.0], [27.5, 5.0], [29.5, 5.0], [27.0, 50.0]];
        assert_eq!(first_crossing(&p, L, 2.0), None);
        assert_eq!(first_crossing(&[], L, 2.0), None);
        // On the centre line: no side.
        assert_eq!(first_crossing(&[[30.0, 5.0], [40.0, 5.0]], L, 2.0), None);
    }

    #[test]
    fn crossings_are_classified_where_the_path_meets_the_centre_line() {
        // From the left, through y = 20 + 5 = 25 at x = 30: within 4 + 2 of the door.
        let through = [[26.0, 21.0], [28.0, 23.0], [32.0, 27.0], [33.0, 27.0]];
        assert_eq!(
            first_crossing(&through, L, 2.0),
            Some(Crossing {
                step: 3,
                door: true
            })
        );
        // 3 px past the centre is 2 px clear of the face: step 2 with margin 2 needs 33.
        let c = first_crossing(&through[..3], L, 1.0).unwrap();
        assert_eq!((c.step, c.door), (2, true));
        // The same path with the door 10 px lower: y at the wall (25) is 7 from door_y 32.
        let low = Layout {
            wall_x: 30.0,
            door_y: 32.0,
        };
        assert_eq!(
            first_crossing(&through, low, 2.0),
            Some(Crossing {
                step: 3,
                door: false
            })
        );
        // Not clear of the wall by 3 px: no crossing yet.
        assert_eq!(first_crossing(&through, low, 3.0), None);
        let near = Layout {
            wall_x: 30.0,
            door_y: 30.0,
        };
        assert!(first_crossing(&through, near, 2.0).unwrap().door);
        // From the right, in one jump from (40, 0) to (20, 40): y at x = 30 is 20.
        let back = [[40.0, 0.0], [20.0, 40.0]];
        assert_eq!(
            first_crossing(&back, L, 2.0),
            Some(Crossing {
                step: 1,
                door: true
            })
        );
        // A path that comes back across the line before it is clear: the last pass counts.
        let zig = [
            [28.0, 0.0],
            [31.0, 0.0],
            [29.0, 20.0],
            [31.0, 20.0],
            [34.0, 20.0],
        ];
        assert_eq!(
            first_crossing(&zig, L, 2.0),
            Some(Crossing {
                step: 4,
                door: true
            })
        );
        // A path that reaches the centre line and runs along it crosses where it reached it.
        let vertical = [[29.0, 0.0], [30.0, 0.0], [30.0, 9.0], [34.0, 9.0]];
        let c = first_crossing(&vertical, L, 2.0).unwrap();
        assert_eq!((c.step, c.door), (3, false));
    }

    #[test]
    fn settings_are_checked() {
        assert!(WallLeaksConfig::default().validate().is_ok());
        let zero = WallLeaksConfig {
            margin: 0.0,
            ..Default::default()
        };
        assert!(zero.validate().is_ok());
        for bad in [
            WallLeaksConfig {
                walks: 0,
                ..Default::default()
            },
            WallLeaksConfig {
                steps: 0,
                ..Default::default()
            },
            WallLeaksConfig {
                episodes: 0,
                ..Default::default()
            },
            WallLeaksConfig {
                margin: f32::NAN,
                ..Default::default()
            },
            WallLeaksConfig {
                margin: -1.0,
                ..Default::default()
            },
            WallLeaksConfig {
                margin: f32::INFINITY,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(layout_of("two-rooms", &[1.0, 2.0]).is_err());
        assert_eq!(layout_of("pldm", &[1.0, 2.0]).unwrap(), Layout::PLDM);
        let l = layout_of("random-wall", &[10.0, 20.0, 30.0, 40.0]).unwrap();
        assert_eq!((l.wall_x, l.door_y), (30.0, 40.0));
    }
}
