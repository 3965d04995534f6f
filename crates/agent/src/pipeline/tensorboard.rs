//! The run's TensorBoard event file, [`EVENTS_FILE`] beside `metrics.jsonl`, so that
//! `tensorboard --logdir runs` shows every run (format: [`ami_io::tfevents`]).
//!
//! **Contents.** The first event carries the file version; then one event per training line
//! of `metrics.jsonl`, at that line's `step`, with every scalar of the line ([`scalars`]):
//! `loss/total` (`loss`), `loss/<term>` (each unweighted term of `terms`),
//! `collapse/mean_std` and `collapse/effective_rank` (`collapse`), `lr`, and for latent
//! models `latent/entropy_bits` and `latent/usage/<j>` (`latent_usage`). Divergence lines
//! carry no scalar and write no event.
//!
//! **A function of `metrics.jsonl`.** Apart from `wall_time`, the file is determined by the
//! lines of `metrics.jsonl`: whenever training (re)opens `metrics.jsonl` (a fresh run, a
//! resume, a rollback) the event file is rewritten atomically from the lines kept
//! ([`EventLog::rebuild`]), and each new line is appended to both. A run killed and resumed
//! therefore ends with the same events as an uninterrupted one, each step once. `wall_time` is
//! the real time a line was first written (TensorBoard's "relative" and "wall" axes): a
//! rebuild keeps the times of the steps the replaced file already had and dates the others,
//! which only a lost or foreign file lacks, now.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use ami_io::tfevents::{decode_prefix, event_record, Event, EventKind, Scalar, FILE_VERSION};
use serde_json::Value;

use super::run_dir::RunDir;
use crate::error::AgentError;

/// File name of the run's event file (TensorBoard finds files whose name contains
/// `tfevents`; the name is fixed so that runs of the same seed hold the same files).
pub const EVENTS_FILE: &str = "events.out.tfevents.ami";

/// The scalars of one `metrics.jsonl` line, tagged as the module docs say (empty for a
/// divergence line; a value that is not a number, e.g. a `null` written for a NaN, is left
/// out).
pub fn scalars(line: &Value) -> Vec<Scalar> {
    let mut out = Vec::new();
    if line.get("divergence").is_some() {
        return out;
    }
    let mut push = |tag: String, v: &Value| {
        if let Some(x) = v.as_f64() {
            out.push(Scalar {
                tag,
                value: x as f32,
            });
        }
    };
    push("loss/total".into(), &line["loss"]);
    for term in line["terms"].as_array().into_iter().flatten() {
        if let Some(name) = term[0].as_str() {
            push(format!("loss/{name}"), &term[1]);
        }
    }
    // By name, whatever the JSON map's order.
    let mut collapse: Vec<_> = line["collapse"].as_object().into_iter().flatten().collect();
    collapse.sort_by_key(|(name, _)| name.as_str());
    for (name, v) in collapse {
        push(format!("collapse/{name}"), v);
    }
    push("lr".into(), &line["lr"]);
    if let Some(usage) = line.get("latent_usage") {
        push("latent/entropy_bits".into(), &usage["entropy_bits"]);
        for (j, f) in usage["fractions"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            push(format!("latent/usage/{j}"), f);
        }
    }
    out
}

/// The event of one `metrics.jsonl` line at `wall_time`; `None` for a line without a step or
/// without scalars.
fn line_event(line: &Value, wall_time: f64) -> Option<Event> {
    let step = i64::try_from(line["step"].as_u64()?).ok()?;
    let scalars = scalars(line);
    (!scalars.is_empty()).then_some(Event {
        wall_time,
        step,
        kind: EventKind::Scalars(scalars),
    })
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The event file of a run, open for appending.
pub(super) struct EventLog {
    file: File,
    path: PathBuf,
}

impl EventLog {
    /// Rewrites the event file (atomically) to the events of `metrics`, the `metrics.jsonl`
    /// text training continues from, then opens it for appending (module docs). `fresh`: a new
    /// run, whose wall times are all now (a previous run's file is not consulted).
    pub(super) fn rebuild(run: &RunDir, metrics: &str, fresh: bool) -> Result<Self, AgentError> {
        let path = run.file(EVENTS_FILE);
        let old = if fresh {
            Vec::new()
        } else {
            std::fs::read(&path)
                .ok()
                .and_then(|b| decode_prefix(&b, &path).ok())
                .map(|(events, _)| events)
                .unwrap_or_default()
        };
        let t = now();
        let version_time = old
            .iter()
            .find(|e| matches!(e.kind, EventKind::FileVersion(_)))
            .map_or(t, |e| e.wall_time);
        let mut times = BTreeMap::new();
        for e in old
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Scalars(_)))
        {
            times.entry(e.step).or_insert(e.wall_time);
        }
        let mut bytes = event_record(&Event {
            wall_time: version_time,
            step: 0,
            kind: EventKind::FileVersion(FILE_VERSION.into()),
        });
        for line in metrics.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let step = v["step"].as_u64().and_then(|s| i64::try_from(s).ok());
            let wall_time = step.and_then(|s| times.get(&s).copied()).unwrap_or(t);
            if let Some(e) = line_event(&v, wall_time) {
                bytes.extend(event_record(&e));
            }
        }
        run.write(EVENTS_FILE, &bytes)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(AgentError::io(&path))?;
        Ok(EventLog { file, path })
    }

    /// Appends the event of the `metrics.jsonl` line `line` (just written there), dated now.
    pub(super) fn append(&mut self, line: &str) -> Result<(), AgentError> {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return Ok(());
        };
        match line_event(&v, now()) {
            // One write per record, so that a kill leaves whole records (a cut one is
            // dropped by the next rebuild anyway).
            Some(e) => self
                .file
                .write_all(&event_record(&e))
                .map_err(AgentError::io(&self.path)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_io::tfevents::decode_events;

    fn tags(line: &str) -> Vec<(String, f32)> {
        scalars(&serde_json::from_str(line).unwrap())
            .into_iter()
            .map(|s| (s.tag, s.value))
            .collect()
    }

    #[test]
    fn every_scalar_of_a_line_is_tagged() {
        let line = r#"{"step":4,"lr":0.001,"loss":1.5,"terms":[["prediction",0.25],["variance",0.5]],
            "collapse":{"mean_std":0.75,"effective_rank":3.5},
            "latent_usage":{"fractions":[0.25,0.75],"entropy_bits":0.8}}"#;
        let want = [
            ("loss/total", 1.5),
            ("loss/prediction", 0.25),
            ("loss/variance", 0.5),
            ("collapse/effective_rank", 3.5),
            ("collapse/mean_std", 0.75),
            ("lr", 0.001),
            ("latent/entropy_bits", 0.8),
            ("latent/usage/0", 0.25),
            ("latent/usage/1", 0.75),
        ];
        let got = tags(&line.replace('\n', ""));
        let want: Vec<(String, f32)> = want.iter().map(|(t, v)| (t.to_string(), *v)).collect();
        assert_eq!(got, want);
        assert!(tags(r#"{"step":9,"divergence":{"value":1.0}}"#).is_empty());
        assert_eq!(
            tags(r#"{"step":1,"loss":null,"lr":0.5}"#),
            [("lr".into(), 0.5)]
        );
    }

    #[test]
    fn a_rebuild_keeps_the_kept_steps_times_and_drops_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let lines = [
            r#"{"step":0,"lr":0.1,"loss":2.0,"terms":[]}"#,
            r#"{"step":5,"lr":0.1,"loss":1.0,"terms":[]}"#,
            r#"{"step":10,"lr":0.1,"loss":0.5,"terms":[]}"#,
        ];
        let mut log = EventLog::rebuild(&run, "", true).unwrap();
        for l in lines {
            log.append(l).unwrap();
        }
        let path = run.file(EVENTS_FILE);
        let first = decode_events(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(first.len(), 4);
        // A cut last record, then a resume that keeps the lines of steps 0 and 5.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let kept = format!("{}\n{}\n", lines[0], lines[1]);
        let mut log = EventLog::rebuild(&run, &kept, false).unwrap();
        let again = decode_events(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(again, first[..3]);
        log.append(lines[2]).unwrap();
        let done = decode_events(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(done[..3], first[..3]);
        assert_eq!((done[3].step, &done[3].kind), (10, &first[3].kind));
    }
}
