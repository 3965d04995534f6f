//! Episode videos of an evaluation: the first `eval.videos` episodes of the split as animated
//! GIFs, `episode-NNN.gif` (`NNN`: the episode's index in the split) in the split's video
//! directory (`eval/<task>/videos/` for the test split, `videos_val/` for validation),
//! listed in its report.
//!
//! **Frames.** One frame per state of the episode (`steps + 1` frames: the start, then the
//! state after each step), [`FRAME_DELAY_CS`] hundredths of a second each. Frame `t` is the
//! environment's episode picture ([`ami_envs::EnvSpec::video_frame`]: the arena, the path
//! executed so far, the agent at state `t`) with the plan the agent imagined at the last
//! planning call at or before step `t`, as its state probe reads it ([`ImaginedPlan`]: the
//! current representation's reading first, then the predicted states'), drawn as a dotted
//! path. The plans are recorded while the episodes run (the probe's affine readout of the
//! `h + 1` states of each plan, outside the planner's timing); the frames are drawn and
//! encoded after the evaluation.
//!
//! **Never fatal.** Without a picture for the environment no video is written; without a
//! state probe the videos show the real episode only; a frame or file that cannot be written
//! stops the videos there. Each case is said in the report's `videos_note`, and the
//! evaluation itself goes on. Stale `episode-*.gif` files of an earlier evaluation in the same
//! directory are removed first, so that the directory holds what the report lists.

use std::path::Path;

use ami_envs::EnvSpec;
use ami_io::{write_gif, Animation};

use crate::episode::{EpisodeOutcome, ImaginedPlan};

/// Display time of one frame (hundredths of a second): 10 environment steps per second.
pub const FRAME_DELAY_CS: u16 = 10;

/// What [`write_videos`] wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Videos {
    /// The file names in the video directory (`episode-000.gif`, …).
    pub files: Vec<String>,
    /// What the videos lack or why there are none (module docs).
    pub note: Option<String>,
}

/// The file name of episode `index`'s video.
pub fn video_name(index: usize) -> String {
    format!("episode-{index:03}.gif")
}

/// Writes the videos of the first `n` of `outcomes` (all when fewer) into `video_dir`
/// (module docs); never fails.
pub fn write_videos(
    video_dir: &Path,
    spec: &dyn EnvSpec,
    outcomes: &[EpisodeOutcome],
    n: usize,
) -> Videos {
    remove_stale(video_dir);
    let shown = &outcomes[..n.min(outcomes.len())];
    if shown.is_empty() {
        return Videos::default();
    }
    match spec.video_frame(&shown[0].trace, 0, &[]) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Videos {
                files: Vec::new(),
                note: Some(format!(
                    "no videos: the {} environment has no episode picture to animate",
                    spec.kind()
                )),
            }
        }
        Err(e) => return failed(Vec::new(), &e.to_string()),
    }
    if let Err(e) = std::fs::create_dir_all(video_dir) {
        return failed(Vec::new(), &format!("{}: {e}", video_dir.display()));
    }
    let results: Vec<Result<String, String>> = shown
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let name = video_name(i);
            let anim = animation(spec, o)?;
            write_gif(&video_dir.join(&name), &anim).map_err(|e| e.to_string())?;
            Ok(name)
        })
        .collect();
    let mut files = Vec::new();
    for r in results {
        match r {
            Ok(name) => files.push(name),
            Err(e) => return failed(files, &e),
        }
    }
    let note = shown.iter().all(|o| o.imagined.is_empty()).then(|| {
        "real frames only: the run has no state probe (probe.json) to read the imagined plan"
            .to_string()
    });
    Videos { files, note }
}

fn failed(files: Vec<String>, why: &str) -> Videos {
    Videos {
        files,
        note: Some(format!("videos stopped: {why}")),
    }
}

/// Removes the `episode-*.gif` files of `video_dir` (errors ignored: a file that stays is
/// overwritten or left unlisted).
fn remove_stale(video_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(video_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("episode-") && name.ends_with(".gif") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The plan shown at frame `t`: the last one imagined at or before step `t` (`&[]` for none).
pub fn plan_at(imagined: &[ImaginedPlan], t: usize) -> &[Vec<f32>] {
    let k = imagined.partition_point(|p| p.step <= t);
    k.checked_sub(1)
        .map_or(&[][..], |k| imagined[k].points.as_slice())
}

/// The frames of one episode's video (module docs).
fn animation(spec: &dyn EnvSpec, o: &EpisodeOutcome) -> Result<Animation, String> {
    let mut frames = Vec::with_capacity(o.trace.path.len());
    let (mut width, mut height) = (0, 0);
    for t in 0..o.trace.path.len() {
        let frame = spec
            .video_frame(&o.trace, t, plan_at(&o.imagined, t))
            .map_err(|e| e.to_string())?
            .ok_or("the environment stopped drawing frames")?;
        (width, height) = (frame.width(), frame.height());
        frames.push(frame.pixels().to_vec());
    }
    Ok(Animation {
        width,
        height,
        delay_cs: FRAME_DELAY_CS,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_frame_shows_the_last_plan_made_at_or_before_it() {
        let plan = |step: usize, x: f32| ImaginedPlan {
            step,
            points: vec![vec![x]],
        };
        let plans = [plan(0, 1.0), plan(3, 2.0), plan(6, 3.0)];
        let at = |t| plan_at(&plans, t).first().map(|p| p[0]);
        assert_eq!(
            (0..8).map(at).collect::<Vec<_>>(),
            [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0].map(Some)
        );
        assert!(plan_at(&[], 4).is_empty());
        assert!(plan_at(&plans[1..], 2).is_empty());
    }
}
