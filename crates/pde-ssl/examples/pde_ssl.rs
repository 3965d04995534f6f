//! Runs the coefficient-regression experiment on small Burgers (or KS) data and prints the
//! table: `cargo run --release -p ami-pde-ssl --example pde_ssl [burgers|ks] [STEPS]
//! [UNLABELLED] [CROP_FRAMES] [SEED]` (the seed draws the data, the weights and the views).

use ami_pde::Equation;
use ami_pde_ssl::experiment::{run, ExperimentConfig};
use burn::tensor::Device;

fn main() {
    let equation: Equation = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(Equation::Burgers);
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let Some(mut cfg) = ExperimentConfig::small(equation) else {
        eprintln!("error: no experiment setting for {}", equation.name());
        std::process::exit(1);
    };
    if let Some(&steps) = args.first() {
        cfg.pretrain.steps = steps;
        cfg.supervised_steps = steps;
    }
    if let Some(&n) = args.get(1) {
        cfg.unlabelled = n;
    }
    if let Some(&c) = args.get(2) {
        cfg.pretrain.view.crop_frames = c;
    }
    if let Some(&seed) = args.get(3) {
        cfg.seed = seed as u64;
        cfg.pretrain.seed = seed as u64;
    }
    let t0 = std::time::Instant::now();
    match run(&cfg, &Device::flex(), &mut |line| eprintln!("{line}")) {
        Ok(rows) => {
            println!(
                "labels  ssl(lie)  ssl(crop+noise)  untrained  supervised   (relative MSE of ln ν)"
            );
            for r in rows {
                println!(
                    "{:>6}  {:>8.4}  {:>15.4}  {:>9.4}  {:>10.4}",
                    r.labels,
                    r.ssl_rel_mse,
                    r.crop_noise_rel_mse,
                    r.untrained_rel_mse,
                    r.supervised_rel_mse
                );
            }
            eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
