//! `ami demo` in a screenful of library calls: generate reward-free data in two-rooms, train a
//! JEPA world model on it, then plan to goals on the test episodes and print the report.
//!
//! ```sh
//! cargo run --release -p ami-agent --example demo -- runs/example [tiny|check|default|full]
//! ```

use std::path::PathBuf;

use ami_agent::pipeline::{
    evaluate, fit, generate_data, FitOptions, Preset, RunConfig, RunDir, Silent, Split,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "runs/example".into()));
    let preset: Preset = args.next().as_deref().unwrap_or("check").parse()?;

    // 1. The configuration: a preset, with any key overridable as on the command line.
    let cfg = RunConfig::preset(preset).with_overrides(&["train.seed=0".into()])?;
    cfg.validate()?;
    let run = RunDir::create(&out)?;

    // 2. Reward-free trajectories from the environment's behaviour policy.
    let data = generate_data(&cfg, &Silent)?;
    println!("{} trajectories of {} steps", data.n_traj, data.traj_len);

    // 3. The world model, trained self-supervised (checkpoints and metrics.jsonl in `run`).
    let trainer = fit(&run, &cfg, &data, FitOptions::default(), &Silent)?;
    println!("trained {} steps", trainer.step);

    // 4. Planning on the test tasks: success rates, latency, report.json and a picture.
    let report = evaluate(&run, &cfg, Split::Test, &Silent)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
