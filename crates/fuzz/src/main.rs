//! `ami-fuzz --target NAME|all --inputs N --seed S [--crashes DIR] [--json]`: fuzzes the file
//! loaders and prints, per target, inputs, panics, hangs, the slowest input, the largest
//! allocation against its bound, errors vs accepted inputs and the rate. Exits 1 when any
//! input panicked, hung or exceeded its bound, 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use ami_fuzz::runner::{fuzz, quiet_panics, Report};
use ami_fuzz::{all_targets, target, Target};

const USAGE: &str =
    "usage: ami-fuzz --target NAME|all --inputs N --seed S [--crashes DIR] [--json]";

struct Args {
    targets: Vec<Box<dyn Target>>,
    inputs: u64,
    seed: u64,
    crashes: Option<PathBuf>,
    json: bool,
}

fn number(flag: &str, v: Option<String>) -> Result<u64, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse()
        .map_err(|_| format!("{flag}: `{v}` is not a non-negative integer"))
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut name, mut inputs, mut seed, mut crashes, mut json) = (None, None, 0, None, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => name = Some(it.next().ok_or("--target needs a value")?),
            "--inputs" => inputs = Some(number("--inputs", it.next())?),
            "--seed" => seed = number("--seed", it.next())?,
            "--crashes" => {
                crashes = Some(PathBuf::from(it.next().ok_or("--crashes needs a value")?))
            }
            "--json" => json = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let name = name.ok_or_else(|| format!("--target is required\n{USAGE}"))?;
    let targets = match name.as_str() {
        "all" => all_targets(),
        n => vec![target(n)?],
    };
    let inputs = inputs.ok_or_else(|| format!("--inputs is required\n{USAGE}"))?;
    Ok(Args {
        targets,
        inputs,
        seed,
        crashes,
        json,
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

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ami-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    quiet_panics();
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
