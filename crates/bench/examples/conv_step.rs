//! Runs workload E's fused conv training step for a while (for profilers):
//! `cargo run --release -p ami-bench --example conv_step [STEPS]`.

use ami_bench::{conv_train_steps_per_s, Repeats};
use ami_jepa::burn::tensor::Device;

fn main() {
    let steps = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let reps = Repeats {
        warmup: 3,
        timed: steps,
    };
    match conv_train_steps_per_s(&Device::flex(), reps) {
        Ok(r) => println!("workload E fused step: {r:.2} steps/s (median of {steps})"),
        Err(e) => eprintln!("error: {e}"),
    }
}
