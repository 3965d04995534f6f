//! The cost of one environment step through the bridge against the native environment:
//! `cargo run --release -p ami-envs --example bridge_step_latency [STEPS]` (needs the
//! bridge's Python: `ami envs setup`). Prints µs per step for the native `pendulum` and
//! Gymnasium's `Pendulum-v1` on the bridge, and per `reset_to` + `step` pair.

use std::time::Instant;

use ami_envs::{EnvConfig, EnvSpec, GymConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5000);
    let native = EnvConfig::of_kind("pendulum")?;
    let mut envs = [
        ("native pendulum", native.spec().build()?),
        ("gym Pendulum-v1 (bridge)", GymConfig::default().build()?),
    ];
    for (name, env) in envs.iter_mut() {
        env.reset_to(&[1.0, 0.0])?;
        let t = Instant::now();
        for i in 0..steps {
            env.step(&[if i % 2 == 0 { 1.0 } else { -1.0 }])?;
        }
        let step_us = t.elapsed().as_secs_f64() * 1e6 / steps as f64;
        let t = Instant::now();
        for _ in 0..steps {
            env.reset_to(&[1.0, 0.0])?;
            env.step(&[0.5])?;
        }
        let pair_us = t.elapsed().as_secs_f64() * 1e6 / steps as f64;
        println!("{name:>26}: step {step_us:8.2} µs, reset_to + step {pair_us:8.2} µs");
    }
    Ok(())
}
