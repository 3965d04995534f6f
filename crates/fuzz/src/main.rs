//! `ami-fuzz --target NAME|all --inputs N --seed S [--crashes DIR] [--json]`: fuzzes the file
//! loaders and prints, per target, inputs, panics, hangs, the slowest input, the largest
//! allocation against its bound, errors vs accepted inputs and the rate. Exits 1 when any
//! input panicked, hung or exceeded its bound, 2 on bad arguments.
//!
//! `ami-fuzz --target NAME --replay FILE…` runs saved inputs (e.g. from `--crashes`) once
//! each and prints the outcome, time and allocation of each.

use std::path::PathBuf;
use std::process::ExitCode;

use ami_fuzz::runner::{fuzz, quiet_panics, run_one, Report};
use ami_fuzz::{all_targets, target, Target};

const USAGE: &str =
    "usage: ami-fuzz --target NAME|all --inputs N --seed S [--crashes DIR] [--json]";

struct Args {
    targets: Vec<Box<dyn Target>>,
    inputs: u64,
    seed: u64,
    crashes: Option<PathBuf>,
    json: bool,
    replay: Vec<PathBuf>,
}

fn number(flag: &str, v: Option<String>) -> Result<u64, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: `{v}` is not a non-negative integer"))
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut name, mut inputs, mut seed, mut crashes, mut json) = (None, None, 0, None, false);
    let mut replay = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => name = Some(it.next().ok_or("--target needs a value")?),
            "--inputs" => inputs = Some(number("--inputs", it.next())?),
            "--seed" => seed = number("--seed", it.next())?,
            "--crashes" => {
                crashes = Some(PathBuf::from(it.next().ok_or("--crashes needs a value")?))
            }
            "--json" => json = true,
            "--replay" => replay.extend(it.by_ref().map(PathBuf::from)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let name = name.ok_or_else(|| format!("--target is required\n{USAGE}"))?;
    let targets = match name.as_str() {
        "all" => all_targets(),
        n => vec![target(n)?],
    };
    if !replay.is_empty() && targets.len() != 1 {
        return Err("--replay needs one --target, not all".into());
    }
    let inputs = match (inputs, replay.is_empty()) {
        (Some(n), _) => n,
        (None, false) => 0,
        (None, true) => return Err(format!("--inputs is required\n{USAGE}")),
    };
    Ok(Args {
        targets,
        inputs,
        seed,
        crashes,
        json,
        replay,
    })
}

fn print_row(r: &Report, json: bool) {
    if json {
        println!("{}", r.to_json());
    } else {
        println!(
            "{:<12} {:>9} {:>6} {:>5} {:>10.2} {:>13} {:>13} {:>5} {:>9} {:>9} {:>10.0}",
            r.target,
            r.inputs,
            r.panics,
            r.hangs,
            r.slowest_ms,
            r.max_alloc,
            r.bound_at_max,
            r.violations,
            r.errors,
            r.accepted,
            r.rate()
        );
    }
}

/// Runs each saved input once and prints its outcome.
fn replay(target: &dyn Target, files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            eprintln!("ami-fuzz: cannot read {}", f.display());
            return ExitCode::from(2);
        };
        let o = run_one(target, &bytes, f);
        let bound = target.bound(bytes.len());
        let outcome = match &o.result {
            None => "PANIC".to_string(),
            Some(Ok(())) => "accepted".to_string(),
            Some(Err(m)) => format!("error: {m}"),
        };
        failed |= o.result.is_none() || o.alloc > bound;
        println!(
            "{}: {:.2} ms, {} bytes allocated (bound {bound}), {outcome}",
            f.display(),
            o.elapsed.as_secs_f64() * 1e3,
            o.alloc
        );
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ami-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    quiet_panics();
    if !args.replay.is_empty() {
        return replay(args.targets[0].as_ref(), &args.replay);
    }
    if !args.json {
        println!(
            "{:<12} {:>9} {:>6} {:>5} {:>10} {:>13} {:>13} {:>5} {:>9} {:>9} {:>10}",
            "target",
            "inputs",
            "panics",
            "hangs",
            "slowest_ms",
            "max_alloc_B",
            "bound_B",
            "viol",
            "errors",
            "accepted",
            "inputs/s"
        );
    }
    let mut failed = false;
    for (i, t) in args.targets.iter().enumerate() {
        let r = fuzz(
            t.as_ref(),
            args.inputs,
            args.seed.wrapping_add(i as u64),
            args.crashes.as_deref(),
        );
        failed |= r.panics + r.hangs + r.violations > 0;
        print_row(&r, args.json);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
