//! Evaluation writes episode videos (`eval/<task>/videos/episode-NNN.gif`) listed in the
//! report: one frame per state, the agent where the environment says it is, the imagined plan
//! drawn over the arena; `eval.videos = 0` writes none; a bad `eval.videos` is refused naming
//! the key.

use std::path::Path;

mod common;
use common::{fails, json, ok};

/// Colour of the agent and of the imagined plan in video frames (`ami_envs::render`).
const AGENT: [u8; 3] = [10, 20, 120];
const IMAGINED: [u8; 3] = [160, 40, 200];
/// Pixels per arena px and margin of an episode panel (`ami_envs::render`).
const SCALE: f32 = 3.0;
const PAD: f32 = 6.0;

/// The frames of a GIF as RGB8, with its size.
fn frames(path: &Path) -> (usize, usize, Vec<Vec<u8>>) {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = opts.read_info(file).unwrap();
    let (w, h) = (d.width() as usize, d.height() as usize);
    let mut out = Vec::new();
    while let Some(f) = d.read_next_frame().unwrap() {
        assert_eq!((f.width as usize, f.height as usize), (w, h));
        out.push(
            f.buffer
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        );
    }
    (w, h, out)
}

/// The colour of the pixel showing arena point `p` in a frame of width `w`.
fn colour_at(frame: &[u8], w: usize, size: f32, p: &serde_json::Value) -> [u8; 3] {
    let (x, y) = (p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32);
    let (px, py) = (
        (PAD + x * SCALE) as usize,
        (PAD + (size - y) * SCALE) as usize,
    );
    let i = 3 * (py * w + px);
    [frame[i], frame[i + 1], frame[i + 2]]
}

#[test]
fn demo_writes_one_video_per_episode_and_eval_videos_0_none() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let r = run.to_str().unwrap();
    ok(&["demo", "--preset", "tiny", "--seed", "2", "--out", r]);
    let report = json(&run.join("report.json"));
    let listed: Vec<String> = report["videos"]
        .as_array()
        .unwrap_or_else(|| panic!("no videos in {report}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..4)
        .map(|i| format!("eval/reach/videos/episode-{i:03}.gif"))
        .collect();
    assert_eq!(listed, want);
    assert!(report.get("videos_note").is_none(), "{report}");
    let cfg: toml::Value =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    let size = cfg["env"]["size"].as_float().unwrap() as f32;
    let records = std::fs::read_to_string(run.join("eval/reach/episodes.jsonl")).unwrap();
    // Every record carries its path, start to end, one state per step; the failures have a
    // picture of their own exactly when there are any.
    let mut failed = 0;
    for line in records.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let path = rec["path"].as_array().unwrap_or_else(|| panic!("{rec}"));
        assert_eq!(
            path.len(),
            rec["steps"].as_u64().unwrap() as usize + 1,
            "{rec}"
        );
        assert_eq!(path[0], rec["start"], "{rec}");
        assert_eq!(path[path.len() - 1], rec["end"], "{rec}");
        let ok = rec["successes"]["success_rate"].as_bool();
        failed += usize::from(!ok.unwrap_or_else(|| panic!("{rec}")));
    }
    let failures = run.join("eval/reach/failures.png");
    assert_eq!(failures.exists(), failed > 0, "{failed} failed");
    let mut imagined_pixels = 0;
    for (file, line) in listed.iter().zip(records.lines()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let (w, h, frames) = frames(&run.join(file));
        let side = (size * SCALE + 2.0 * PAD) as usize;
        assert_eq!((w, h), (side, side), "{file}");
        // One frame per state: the start, then one per step.
        let steps = rec["steps"].as_u64().unwrap() as usize;
        assert_eq!(frames.len(), steps + 1, "{file}");
        // The agent is drawn where the environment reports it: at the start, and at the end.
        assert_eq!(
            colour_at(&frames[0], w, size, &rec["start"]),
            AGENT,
            "{file}"
        );
        assert_eq!(
            colour_at(&frames[steps], w, size, &rec["end"]),
            AGENT,
            "{file}"
        );
        imagined_pixels += frames
            .iter()
            .flat_map(|f| f.chunks_exact(3))
            .filter(|p| *p == IMAGINED)
            .count();
    }
    assert!(imagined_pixels > 0, "no imagined plan drawn in any frame");

    // The validation split has its own directory and leaves the test videos alone.
    ok(&[
        "eval",
        "--run",
        r,
        "--split",
        "val",
        "--set",
        "eval.videos=1",
    ]);
    let val = json(&run.join("report_val.json"));
    assert_eq!(
        val["videos"],
        serde_json::json!(["eval/reach/videos_val/episode-000.gif"])
    );
    assert!(run.join("eval/reach/videos_val/episode-000.gif").is_file());
    assert!(run.join(&listed[3]).is_file());

    // Re-evaluated without videos: none written, none left behind, none listed.
    ok(&["eval", "--run", r, "--set", "eval.videos=0"]);
    let report = json(&run.join("report.json"));
    assert!(report.get("videos").is_none(), "{report}");
    let left = std::fs::read_dir(run.join("eval/reach/videos"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);

    // Bad values name the key.
    for bad in ["eval.videos=-1", "eval.videos=1000", "eval.videos=\"four\""] {
        let err = fails(&["eval", "--run", r, "--set", bad]);
        assert!(err.contains("eval.videos"), "{bad}: {err}");
    }
}
