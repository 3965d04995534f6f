//! Representation-conditioned time-stepping on Burgers with 1024 unlabelled trajectories
//! (issue 17, item 4; `ami experiment pde-ssl` runs the same comparison without the control):
//! generates the experiment's splits, pre-trains a Lie-VICReg encoder on the unlabelled
//! trajectories, trains the time-stepper with and without the frozen representation (and,
//! as a control, with the representation of the untrained encoder), and prints the rollout
//! relative errors next to persistence:
//! `cargo run --release -p ami-pde-ssl --example timestep [PRETRAIN_STEPS] [STEPPER_STEPS]
//! [CONDITIONINGS] [HISTORIES] [SEED]` (defaults 1000, the `TimestepConfig` default, `film`,
//! `4`, 0). `CONDITIONINGS` (`film`, `channels`) and `HISTORIES` may be comma-separated lists:
//! one pre-trained encoder, one comparison per pair.
//!
//! Measured with the first encoder of `ami-pde-ssl` (zero-padded, flattened trunk; the
//! experiment's periodic pooled encoder came later) (`… --example timestep 1000 2000 film 4,1 SEED`, 1000 pre-training steps, 2000
//! stepper steps of 32, 256 test trajectories rolled out over frames 24..32; rollout relative
//! error, seed 0 / seed 1; 60–80 s of time-stepping per history on 2 cores):
//!
//! | history | with SSL repr | with untrained repr | without repr | persistence |
//! |---:|---:|---:|---:|---:|
//! | 4 | 0.00012 / 0.00012 | 0.00017 / 0.00010 | 0.00012 / 0.00006 | 0.0236 / 0.0231 |
//! | 1 | 0.00093 / 0.00085 | 0.00126 / 0.00111 | 0.00198 / 0.00198 | 0.0236 / 0.0231 |
//!
//! With 4 past frames the history already tells the decay rate (ν) and the representation
//! does not help; with one frame it halves the error, and the SSL representation does better
//! than the untrained encoder's. Conditioning by channels instead of FiLM (seed 0): 0.00011
//! with 4 frames, 0.00119 with one (without: 0.00012, 0.00198).

use ami_jepa::{Vicreg, VicregConfig};
use ami_pde_ssl::experiment::{splits, ExperimentConfig, Splits};
use ami_pde_ssl::pretrain::{pretrain, seeded};
use ami_pde_ssl::timestep::{compare, rollout_error, train_stepper, Conditioning, TimestepConfig};
use ami_pde_ssl::{PdeEncoder, SslError, ViewConfig};
use burn::tensor::Device;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    let mut cfg = ExperimentConfig::burgers();
    cfg.unlabelled = 1024;
    cfg.pretrain.steps = num(0).unwrap_or(1000);
    let mut ts = TimestepConfig::default();
    if let Some(steps) = num(1) {
        ts.steps = steps;
    }
    let conds: Vec<Conditioning> = args.get(2).map_or(vec![Conditioning::Film], |a| {
        a.split(',')
            .map(|c| match c {
                "channels" => Conditioning::Channels,
                _ => Conditioning::Film,
            })
            .collect()
    });
    let histories: Vec<usize> = args.get(3).map_or(vec![ts.history], |a| {
        a.split(',').filter_map(|h| h.parse().ok()).collect()
    });
    if let Some(seed) = num(4) {
        cfg.seed = seed as u64;
        cfg.pretrain.seed = seed as u64;
        ts.seed = seed as u64;
    }
    let settings: Vec<TimestepConfig> = histories
        .iter()
        .flat_map(|&history| {
            let ts = &ts;
            conds.iter().map(move |&conditioning| TimestepConfig {
                history,
                conditioning,
                ..ts.clone()
            })
        })
        .collect();
    if let Err(e) = run(cfg, &settings) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(mut cfg: ExperimentConfig, settings: &[TimestepConfig]) -> Result<(), SslError> {
    let device = Device::flex();
    let clock = std::time::Instant::now();
    let s = splits(&cfg)?;
    let (sum2, count) = s.unlabelled.iter().fold((0.0, 0usize), |(a, c), t| {
        (a + t.u.iter().map(|v| v * v).sum::<f64>(), c + t.u.len())
    });
    let rms = (sum2 / count.max(1) as f64).sqrt();
    cfg.pretrain.view.scale = 1.0 / rms.max(1e-12);
    eprintln!(
        "data: {} unlabelled, {} test, in {:.1} s; rms u = {rms:.3}",
        s.unlabelled.len(),
        s.test.len(),
        clock.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let objective = Vicreg(VicregConfig::default());
    let encoder = pretrain(
        &s.unlabelled,
        &cfg.pretrain,
        &objective,
        &device,
        &mut |step, loss| {
            if step % 250 == 0 {
                eprintln!("  pre-training step {step}: vicreg {loss:.3}");
            }
        },
    )?;
    eprintln!(
        "pre-trained ({} steps) in {:.1} s",
        cfg.pretrain.steps,
        t.elapsed().as_secs_f64()
    );
    let view = &cfg.pretrain.view;
    // Control: the same architecture with its initial (untrained) weights.
    let shape = view.shape(s.test[0].frames, s.test[0].grid)?;
    let untrained = seeded(&device, cfg.pretrain.seed, |d| {
        PdeEncoder::new(&cfg.pretrain.encoder, shape, d)
    });
    for ts in settings {
        report(&s, ts, view, [&encoder, &untrained], &device)?;
    }
    eprintln!("total {:.1} s", clock.elapsed().as_secs_f64());
    Ok(())
}

fn report(
    s: &Splits,
    ts: &TimestepConfig,
    view: &ViewConfig,
    [encoder, untrained]: [&PdeEncoder; 2],
    device: &Device,
) -> Result<(), SslError> {
    let control = train_stepper(
        &s.unlabelled,
        ts,
        view,
        Some(untrained),
        device,
        &mut |_, _| {},
    )?;
    let control = rollout_error(&control, &s.test, ts, view, Some(untrained), device)?;
    let r = compare(
        &s.unlabelled,
        &s.test,
        ts,
        view,
        encoder,
        device,
        &mut |line| eprintln!("{line}"),
    )?;
    println!(
        "time-stepping on {} test trajectories, frames {}..{} (history {}, {:?}, {} steps):",
        s.test.len(),
        r.start,
        r.start + r.persistence.per_step.len(),
        ts.history,
        ts.conditioning,
        ts.steps
    );
    println!("variant        rollout rel. error   per step");
    for (name, e) in [
        ("with repr", &r.with_repr),
        ("untrained repr", &control),
        ("without repr", &r.without_repr),
        ("persistence", &r.persistence),
    ] {
        let steps: Vec<String> = e.per_step.iter().map(|v| format!("{v:.4}")).collect();
        println!("{name:<14} {:>18.5}   {}", e.total, steps.join(" "));
    }
    println!("time-stepping {:.1} s", r.seconds);
    Ok(())
}
