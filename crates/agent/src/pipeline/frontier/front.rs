//! The Pareto front of (planning time, success) and the frontier's outputs: table and plots.

use serde::{Deserialize, Serialize};

use ami_io::scatter::Scatter;
use ami_io::svg::Series;

use super::grid::{Family, GridPoint};
use crate::pipeline::config::AgentConfig;
use crate::pipeline::EvalReport;

/// One measured setting (a row of `frontier.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FrontierRow {
    /// Planner family ([`Family::name`]).
    pub planner: String,
    /// `agent.actor` of the setting.
    pub actor: String,
    /// Candidates per iteration (0: the policy alone).
    pub candidates: usize,
    /// Iterations per planning call (0: the policy alone).
    pub iterations: usize,
    /// Gradient steps after CEM (`cem+gradient`; else 0).
    pub refine: usize,
    /// `agent.horizon`.
    pub horizon: usize,
    /// `agent.action_repeat`.
    pub action_repeat: usize,
    /// `agent.replan_every`.
    pub replan_every: usize,
    /// Predictor steps per environment step,
    /// `candidates · iterations · horizon · action_repeat / replan_every` (the count the wall
    /// time stands for; gradient steps and the policy's rollout not included).
    pub predictor_steps_per_step: f64,
    /// The overrides applied to the run's configuration.
    pub sets: Vec<String>,
    /// Success within 4.5 px (the environment's first rule).
    pub success_rate: f64,
    /// Success by the PLDM rule (mean squared coordinate error < 1 px²), when the
    /// environment has it.
    pub success_rate_mse1: Option<f64>,
    /// Planner wall time per environment step (ms).
    pub plan_ms_per_step: f64,
    /// Planner wall time per planning call (ms).
    pub plan_ms_per_call: f64,
    /// Mean environment steps per episode.
    pub mean_episode_steps: f64,
    /// Episodes evaluated.
    pub episodes: usize,
    /// Wall time of this setting's evaluation (s).
    pub seconds: f64,
    /// On the Pareto front of (plan ms/step ↓, success ↑) over all rows.
    pub pareto: bool,
}

impl FrontierRow {
    /// The row of `point`, evaluated with the schedule of `agent` into `report` in `seconds`
    /// (not yet marked on the front).
    pub fn of(point: &GridPoint, agent: &AgentConfig, report: &EvalReport, seconds: f64) -> Self {
        let p = point;
        let steps = p.candidates * p.iterations * agent.horizon * agent.action_repeat;
        FrontierRow {
            planner: p.family.name().to_string(),
            actor: report.actor.clone(),
            candidates: p.candidates,
            iterations: p.iterations,
            refine: p.refine,
            horizon: agent.horizon,
            action_repeat: agent.action_repeat,
            replan_every: agent.replan_every,
            predictor_steps_per_step: steps as f64 / agent.replan_every.max(1) as f64,
            sets: p.overrides(),
            success_rate: report.success_rate(),
            success_rate_mse1: report.success_rates.get("success_rate_mse1").copied(),
            plan_ms_per_step: report.plan_ms_per_step,
            plan_ms_per_call: report.plan_ms_per_call,
            mean_episode_steps: report.mean_episode_steps,
            episodes: report.episodes,
            seconds,
            pareto: false,
        }
    }
}

/// `front[i]` is true when no point `j` is at least as fast and at least as successful and
/// strictly better in one of the two: `points[i] = (cost, success)`, lower cost and higher
/// success better. Equal points are all on the front; a point with a non-finite coordinate is
/// never on it and dominates nothing.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    let ok = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    points
        .iter()
        .map(|p| {
            ok(p)
                && !points
                    .iter()
                    .any(|q| ok(q) && q.0 <= p.0 && q.1 >= p.1 && (q.0 < p.0 || q.1 > p.1))
        })
        .collect()
}

/// Sets [`FrontierRow::pareto`] of every row from (plan ms/step, success rate).
pub fn mark_front(rows: &mut [FrontierRow]) {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.plan_ms_per_step, r.success_rate))
        .collect();
    for (r, on) in rows.iter_mut().zip(pareto_front(&pts)) {
        r.pareto = on;
    }
}

/// The fastest row with `success_rate ≥ target` (ties: the more successful), if any.
pub fn cheapest(rows: &[FrontierRow], target: f64) -> Option<&FrontierRow> {
    rows.iter()
        .filter(|r| r.success_rate >= target && r.plan_ms_per_step.is_finite())
        .min_by(|a, b| {
            a.plan_ms_per_step
                .total_cmp(&b.plan_ms_per_step)
                .then(b.success_rate.total_cmp(&a.success_rate))
        })
}

/// A row's short label: `mppi 64×2 h16×4 r4`, `cem+gradient 32×2+2 …`, `policy r4` (the
/// policy alone acts once per `replan_every` steps and holds its action; it has no horizon).
pub fn label(r: &FrontierRow) -> String {
    let search = match (r.planner.as_str(), r.refine) {
        ("policy", _) => return format!("policy r{}", r.replan_every),
        ("cem+gradient", g) => format!(" {}×{}+{g}", r.candidates, r.iterations),
        _ => format!(" {}×{}", r.candidates, r.iterations),
    };
    format!(
        "{}{search} h{}×{} r{}",
        r.planner, r.horizon, r.action_repeat, r.replan_every
    )
}

/// The rows as a Markdown table, fastest first; `*` marks the Pareto front.
pub fn table(rows: &[FrontierRow]) -> String {
    let mut sorted: Vec<&FrontierRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.plan_ms_per_step.total_cmp(&b.plan_ms_per_step));
    let mut s = String::from(
        "| setting | front | success (4.5 px) | success (MSE < 1) | plan ms/step | plan ms/call | predictor steps/step | steps/episode | plan ms/episode |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in sorted {
        s += &format!(
            "| {} | {} | {:.2} | {} | {} | {} | {:.0} | {:.1} | {} |\n",
            label(r),
            if r.pareto { "*" } else { "" },
            r.success_rate,
            r.success_rate_mse1
                .map_or_else(|| "–".to_string(), |v| format!("{v:.2}")),
            ms(r.plan_ms_per_step),
            ms(r.plan_ms_per_call),
            r.predictor_steps_per_step,
            r.mean_episode_steps,
            ms(r.plan_ms_per_step * r.mean_episode_steps)
        );
    }
    s
}

/// Milliseconds with three significant digits down to 0.0001 (`76.5`, `2.90`, `0.452`,
/// `0.00412`).
pub fn ms(v: f64) -> String {
    let digits = if v <= 0.0 || !v.is_finite() {
        1
    } else {
        (2 - v.log10().floor() as i32).clamp(1, 5) as usize
    };
    format!("{v:.digits$}")
}

/// Success vs plan ms/step (log x), one marker colour per family, the Pareto front dashed.
pub fn success_vs_time(rows: &[FrontierRow], title: &str) -> String {
    let mut front: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.pareto)
        .map(|r| (r.plan_ms_per_step, r.success_rate))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    Scatter {
        title: title.to_string(),
        x_label: "planning ms per environment step (log)".into(),
        y_label: "success rate".into(),
        log_x: true,
        groups: groups(rows, |r| r.plan_ms_per_step),
        curve: Some(Series {
            name: "Pareto front".into(),
            points: front,
        }),
    }
    .render()
}

/// Success vs candidates × iterations per planning call (log x), one colour per family (the
/// policy alone, with none, is left out).
pub fn success_vs_samples(rows: &[FrontierRow], title: &str) -> String {
    Scatter {
        title: title.to_string(),
        x_label: "candidates × iterations per planning call (log)".into(),
        y_label: "success rate".into(),
        log_x: true,
        groups: groups(rows, |r| (r.candidates * r.iterations) as f64),
        curve: None,
    }
    .render()
}

/// One series per family present in `rows`, in [`Family::ALL`] order: `(x(row), success)`.
fn groups(rows: &[FrontierRow], x: impl Fn(&FrontierRow) -> f64) -> Vec<Series> {
    Family::ALL
        .iter()
        .map(|f| Series {
            name: f.name().to_string(),
            points: rows
                .iter()
                .filter(|r| r.planner == f.name())
                .map(|r| (x(r), r.success_rate))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_exactly_the_undominated_points() {
        // (ms/step, success)
        let pts = [
            (40.0, 1.00), // front: the only one at 1.00
            (5.0, 0.97),  // front
            (6.0, 0.97),  // dominated by (5, 0.97): slower, same success
            (2.0, 0.90),  // front
            (3.0, 0.85),  // dominated by (2, 0.90)
            (0.01, 0.80), // front: fastest
            (2.0, 0.90),  // equal to a front point: also on it
            (f64::NAN, 1.0),
        ];
        assert_eq!(
            pareto_front(&pts),
            [true, true, false, true, false, true, true, false]
        );
    }

    #[test]
    fn a_non_finite_point_does_not_dominate() {
        assert_eq!(pareto_front(&[(f64::NAN, 1.0), (10.0, 0.5)]), [false, true]);
        assert!(pareto_front(&[]).is_empty());
    }

    fn row(planner: &str, ms: f64, success: f64) -> FrontierRow {
        FrontierRow {
            planner: planner.into(),
            actor: "planner".into(),
            candidates: 32,
            iterations: 2,
            refine: 0,
            horizon: 16,
            action_repeat: 4,
            replan_every: 4,
            predictor_steps_per_step: 1024.0,
            sets: Vec::new(),
            success_rate: success,
            success_rate_mse1: Some(success),
            plan_ms_per_step: ms,
            plan_ms_per_call: 4.0 * ms,
            mean_episode_steps: 30.0,
            episodes: 100,
            seconds: 1.0,
            pareto: false,
        }
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(ms(76.549), "76.5");
        assert_eq!(ms(2.897), "2.90");
        assert_eq!(ms(0.4519), "0.452");
        assert_eq!(ms(0.004123), "0.00412");
        assert_eq!(ms(0.0), "0.0");
        assert_eq!(ms(1234.0), "1234.0");
    }

    #[test]
    fn cheapest_is_the_fastest_row_that_meets_the_target() {
        let rows = [
            row("mppi", 40.0, 1.0),
            row("cem", 3.0, 0.97),
            row("policy", 0.01, 0.9),
            row("gradient", 3.0, 0.99),
        ];
        assert_eq!(
            cheapest(&rows, 0.97).map(|r| r.planner.as_str()),
            Some("gradient")
        );
        assert_eq!(
            cheapest(&rows, 0.5).map(|r| r.planner.as_str()),
            Some("policy")
        );
        assert!(cheapest(&rows, 1.01).is_none());
    }

    #[test]
    fn the_table_and_plots_mark_the_front() {
        let mut rows = vec![
            row("mppi", 40.0, 1.0),
            row("mppi", 50.0, 0.9),
            row("policy", 0.01, 0.8),
        ];
        mark_front(&mut rows);
        assert_eq!(
            rows.iter().map(|r| r.pareto).collect::<Vec<_>>(),
            [true, false, true]
        );
        let t = table(&rows);
        // Fastest first; the dominated row has no star.
        let lines: Vec<&str> = t.lines().skip(2).collect();
        assert!(lines[0].starts_with("| policy r4 | * |"), "{t}");
        assert!(lines[2].starts_with("| mppi 32×2 h16×4 r4 |  |"), "{t}");
        let svg = success_vs_time(&rows, "t");
        assert!(svg.contains("Pareto front") && svg.contains(">mppi<") && svg.contains(">policy<"));
        // Two families in the legend of the samples plot: the policy has no candidates but
        // still forms a (left-out on log x) series.
        assert!(success_vs_samples(&rows, "t").contains(">mppi<"));
    }
}
