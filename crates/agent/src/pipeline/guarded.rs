//! The training loop of [`super::fit`] under the divergence guard ([`ami_jepa::guard`]: the
//! rules, thresholds and defaults).
//!
//! **Checks.** The loss on every step (NaN or infinite, or exploded); every parameter on every logging step
//! (`train.log_every`, and the last step) and before every checkpoint; the collapse rule on
//! every logging step. Periodic checkpoints are skipped while a collapse streak is open, so
//! that the last good checkpoint precedes the first failed check.
//!
//! **On divergence** (`guard.on_divergence`, `ami train --on-divergence`):
//!
//! * `stop`: nothing more is checkpointed (the diverged state never is); the run ends with
//!   [`AgentError::Diverged`], which says what diverged, at which step, and where the last good
//!   checkpoint is (`ami train --resume` continues from it);
//! * `rollback`: the last good checkpoint of this run is reloaded (the initial weights when it
//!   has none yet), the learning-rate scale is multiplied by `guard.lr_factor`, that state is
//!   checkpointed at once (so that a resumed run continues with the scale), and training
//!   continues. After `guard.max_rollbacks` rollbacks the next divergence stops the run.
//!
//! **Records.** Each divergence is a line of `metrics.jsonl`,
//! `{"step": S, "divergence": {"kind": "non_finite"|"collapse"|"explosion", "what", "value", "threshold",
//! "checks", "action": "stop"|"rollback", "checkpoint_step", "lr_scale", "rollbacks"}}`
//! (`checkpoint_step`: the checkpoint stopped at or rolled back to, `null` for none;
//! `lr_scale`, `rollbacks`: after the action), and `divergence.json` holds the list of those
//! lines. On a rollback the lines of the abandoned steps (from the checkpoint's step on) are
//! dropped, so that every step is logged once; on resume, the lines kept are those of steps
//! before the checkpoint and the checkpoint's own rollback records, so that a killed and
//! resumed run logs exactly what an uninterrupted one does.

use std::fs::File;
use std::io::Write;

use ami_jepa::checkpoint::{load_trainer, save_trainer};
use ami_jepa::{Divergence, GuardState, OnDivergence, StepLog, Trainer, Trajectories};
use serde_json::{json, Value};

use super::config::RunConfig;
use super::engine::attach_engine;
use super::fit::compute_device;
use super::progress::Progress;
use super::run_dir::RunDir;
use super::tensorboard::EventLog;
use crate::error::AgentError;

/// The run's divergence records (a JSON array of the `metrics.jsonl` divergence lines).
pub const DIVERGENCE_FILE: &str = "divergence.json";

/// One training run in progress: where it logs and checkpoints.
pub(super) struct Session<'a> {
    run: &'a RunDir,
    cfg: &'a RunConfig,
    windows: &'a Trajectories,
    progress: &'a dyn Progress,
    /// Step of the last checkpoint this run wrote or resumed from.
    last_saved: Option<usize>,
    metrics: File,
    /// The TensorBoard event file, rebuilt with `metrics.jsonl` ([`super::tensorboard`]).
    events: EventLog,
    /// The divergence lines of `metrics.jsonl`.
    records: Vec<Value>,
}

impl<'a> Session<'a> {
    /// Opens the run's logs for `trainer` (a fresh one, or one resumed from the checkpoint).
    pub(super) fn open(
        run: &'a RunDir,
        cfg: &'a RunConfig,
        windows: &'a Trajectories,
        progress: &'a dyn Progress,
        trainer: &Trainer,
        resumed: bool,
    ) -> Result<Self, AgentError> {
        let (metrics, events, records) = open_metrics(run, trainer, resumed)?;
        Ok(Session {
            run,
            cfg,
            windows,
            progress,
            last_saved: resumed.then_some(trainer.step),
            metrics,
            events,
            records,
        })
    }

    /// Trains until `stop` steps are done and checkpoints the result; a divergence is handled
    /// as the module docs say.
    pub(super) fn train(
        &mut self,
        mut trainer: Trainer,
        stop: usize,
    ) -> Result<Trainer, AgentError> {
        attach_engine(&mut trainer)?;
        loop {
            let diverged = if trainer.step < stop {
                self.step(&mut trainer)?
            } else {
                match self.checkpoint(&trainer)? {
                    None => return Ok(trainer),
                    some => some,
                }
            };
            if let Some(d) = diverged {
                trainer = self.on_divergence(trainer, d)?;
            }
        }
    }

    /// One optimiser step with its checks, log line and scheduled checkpoint.
    fn step(&mut self, trainer: &mut Trainer) -> Result<Option<Divergence>, AgentError> {
        let log = match trainer.train_step(self.windows) {
            Ok(log) => log,
            Err(e) => return Divergence::from_error(&e).map(Some).ok_or(e.into()),
        };
        let total = trainer.train_config.steps;
        if log.step.is_multiple_of(trainer.train_config.log_every) || log.step + 1 == total {
            self.write_log(&log)?;
            self.progress
                .set(trainer.step as u64, &format!("loss {:.4}", log.loss));
            if let Err(e) = trainer.check_finite() {
                return Ok(Divergence::from_error(&e).map(|d| Divergence {
                    step: log.step,
                    ..d
                }));
            }
            if let Some(c) = &log.collapse {
                let d = trainer.guard.check_collapse(&self.cfg.guard, log.step, c);
                if d.is_some() {
                    return Ok(d);
                }
            }
        }
        let d = trainer
            .guard
            .check_loss(&self.cfg.guard, log.step, log.loss);
        if d.is_some() {
            return Ok(d);
        }
        let every = (total / 4).max(1);
        if trainer.step.is_multiple_of(every) && trainer.guard.collapse_streak == 0 {
            if let Some(d) = self.checkpoint(trainer)? {
                return Ok(Some(d));
            }
        }
        self.progress.set(trainer.step as u64, "");
        Ok(None)
    }

    /// Checkpoints `trainer` unless a parameter is not finite (then: the diagnosis, dated at
    /// the step whose update made it so). [`save_trainer`] checks the parameters before it
    /// writes anything, so its non-finite error is the diagnosis.
    fn checkpoint(&mut self, trainer: &Trainer) -> Result<Option<Divergence>, AgentError> {
        match save_trainer(trainer, &self.run.checkpoint()) {
            Ok(()) => {
                self.last_saved = Some(trainer.step);
                Ok(None)
            }
            Err(e) => match Divergence::from_error(&e) {
                Some(d) => Ok(Some(Divergence {
                    step: trainer.step.saturating_sub(1),
                    ..d
                })),
                None => Err(e.into()),
            },
        }
    }

    /// Stops with the diagnosis, or rolls back (module docs).
    fn on_divergence(&mut self, trainer: Trainer, d: Divergence) -> Result<Trainer, AgentError> {
        let g = &self.cfg.guard;
        if g.on_divergence == OnDivergence::Stop || trainer.guard.rollbacks >= g.max_rollbacks {
            self.record(&d, OnDivergence::Stop, &trainer.guard)?;
            return Err(self.stopped(&d, &trainer.guard));
        }
        let guard = GuardState {
            lr_scale: trainer.guard.lr_scale * g.lr_factor,
            rollbacks: trainer.guard.rollbacks + 1,
            collapse_streak: 0,
            first_loss: trainer.guard.first_loss,
        };
        let mut restarted = match self.last_saved {
            Some(_) => load_trainer(&self.run.checkpoint(), &compute_device())?,
            None => Trainer::new(
                trainer.model_config.clone(),
                trainer.objective.clone(),
                self.cfg.train.clone(),
                &compute_device(),
            )?,
        };
        drop(trainer);
        restarted.train_config = self.cfg.train.clone();
        restarted.guard = guard;
        attach_engine(&mut restarted)?;
        (self.metrics, self.events, self.records) = open_metrics(self.run, &restarted, true)?;
        self.record(&d, OnDivergence::Rollback, &guard)?;
        save_trainer(&restarted, &self.run.checkpoint())?;
        self.last_saved = Some(restarted.step);
        let msg = format!("rolled back: {d}; lr × {}", guard.lr_scale);
        self.progress.set(restarted.step as u64, &msg);
        Ok(restarted)
    }

    /// Appends the divergence line to `metrics.jsonl` and rewrites `divergence.json`.
    fn record(
        &mut self,
        d: &Divergence,
        action: OnDivergence,
        after: &GuardState,
    ) -> Result<(), AgentError> {
        let checkpoint_step = self.last_saved;
        let line = json!({
            "step": d.step,
            "divergence": {
                "kind": d.kind,
                "what": d.what,
                "value": d.value,
                "threshold": d.threshold,
                "checks": d.checks,
                "action": action,
                "checkpoint_step": checkpoint_step,
                "lr_scale": after.lr_scale,
                "rollbacks": after.rollbacks,
            }
        });
        let path = self.run.file("metrics.jsonl");
        writeln!(self.metrics, "{line}").map_err(AgentError::io(&path))?;
        self.records.push(line);
        write_records(self.run, &self.records)
    }

    /// The error that ends a stopped run.
    fn stopped(&self, d: &Divergence, g: &GuardState) -> AgentError {
        let after = match g.rollbacks {
            0 => String::new(),
            n => format!(
                " after {n} rollback(s) (guard.max_rollbacks = {}; learning rate scaled by {})",
                self.cfg.guard.max_rollbacks, g.lr_scale
            ),
        };
        let checkpoint = match self.last_saved {
            Some(step) => format!(
                "the last good checkpoint is {} (step {step}); `ami train --resume` continues \
                 from it (lower train.lr, or use --on-divergence rollback)",
                self.run.checkpoint().display()
            ),
            None => "no checkpoint was written before it".to_string(),
        };
        AgentError::Diverged {
            step: d.step,
            diagnosis: format!("{d}{after}"),
            checkpoint,
            record: self.run.file(DIVERGENCE_FILE).display().to_string(),
        }
    }

    fn write_log(&mut self, log: &StepLog) -> Result<(), AgentError> {
        let path = self.run.file("metrics.jsonl");
        let line = serde_json::to_string(log)
            .map_err(|e| AgentError::config_source("metrics.jsonl", e.to_string()))?;
        writeln!(self.metrics, "{line}").map_err(AgentError::io(&path))?;
        self.events.append(&line)
    }
}

/// `metrics.jsonl` opened for appending, with its divergence lines: emptied for a fresh run;
/// otherwise rewritten (atomically) to the lines a run in `trainer`'s state has written
/// ([`kept_lines`]). `divergence.json` and the event file ([`EventLog::rebuild`]) are
/// rewritten to match.
fn open_metrics(
    run: &RunDir,
    trainer: &Trainer,
    keep: bool,
) -> Result<(File, EventLog, Vec<Value>), AgentError> {
    let path = run.file("metrics.jsonl");
    let (kept, records) = if keep {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        kept_lines(&text, trainer.step, trainer.guard.rollbacks)
    } else {
        (String::new(), Vec::new())
    };
    run.write("metrics.jsonl", kept.as_bytes())?;
    write_records(run, &records)?;
    let events = EventLog::rebuild(run, &kept, !keep)?;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(AgentError::io(&path))?;
    Ok((file, events, records))
}

/// The lines of `text` that a run at `step` after `rollbacks` rollbacks has written: those of
/// steps before `step`, and its first `rollbacks` rollback records; and those records.
fn kept_lines(text: &str, step: usize, rollbacks: usize) -> (String, Vec<Value>) {
    let mut kept = String::new();
    let mut records = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let keep = match v.get("divergence") {
            Some(d) => d["action"] == "rollback" && records.len() < rollbacks,
            None => v["step"].as_u64().is_some_and(|s| (s as usize) < step),
        };
        if keep {
            kept.push_str(line);
            kept.push('\n');
            if v.get("divergence").is_some() {
                records.push(v);
            }
        }
    }
    (kept, records)
}

/// Writes `divergence.json` (removes it when there is no record).
fn write_records(run: &RunDir, records: &[Value]) -> Result<(), AgentError> {
    let path = run.file(DIVERGENCE_FILE);
    if records.is_empty() {
        return super::run_dir::remove_if_present(&path);
    }
    let text = serde_json::to_string_pretty(records)
        .map_err(|e| AgentError::config_source(DIVERGENCE_FILE, e.to_string()))?;
    run.write(DIVERGENCE_FILE, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_lines_drop_later_steps_and_rollback_records_the_checkpoint_does_not_count() {
        let text = [
            r#"{"step":0,"loss":1}"#,
            r#"{"step":1,"loss":1}"#,
            r#"{"step":3,"divergence":{"action":"rollback"}}"#,
            r#"{"step":1,"loss":2}"#,
            r#"{"step":2,"loss":2}"#,
            r#"{"step":4,"divergence":{"action":"rollback"}}"#,
            r#"{"step":5,"divergence":{"action":"stop"}}"#,
            "not json",
        ]
        .join("\n");
        // Resumed at step 2 with one rollback in the checkpoint: the second record was written
        // by a process killed before its rollback's checkpoint.
        let (kept, records) = kept_lines(&text, 2, 1);
        let lines: Vec<&str> = kept.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"step":0,"loss":1}"#,
                r#"{"step":1,"loss":1}"#,
                r#"{"step":3,"divergence":{"action":"rollback"}}"#,
                r#"{"step":1,"loss":2}"#,
            ]
        );
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["step"], 3);
        let (kept, records) = kept_lines(&text, 0, 0);
        assert!(kept.is_empty() && records.is_empty());
    }
}
