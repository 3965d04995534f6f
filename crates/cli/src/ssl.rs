//! `ami ssl loss NAME`: evaluates one of `ami-energy`'s SSL losses on `.npy` arrays and
//! prints the loss, its terms and its gradients (SwAV's assignments for `sinkhorn`). Only the
//! command line is parsed here; names, parameters and shapes are checked by
//! `ami_energy::ssl::registry`. `ami ssl train` is in [`crate::ssl_train`].

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::Subcommand;
use serde_json::{json, Map, Value};

use ami_energy::ssl::{evaluate, SslArray, SslLossKind, SslOutput};

/// `ami ssl …` commands.
#[derive(Subcommand)]
pub enum SslCommand {
    /// Evaluate a self-supervised loss and its exact gradients on arrays from `.npy` files
    /// (float32 or float64; computed in float64).
    ///
    /// Losses and their inputs: vicreg (x, y), barlow-twins (z1, z2), byol (p1, p2, t1, t2),
    /// simsiam (p1, p2, z1, z2), nt-xent (z1, z2), infonce (q, k), ijepa (pred, target),
    /// sinkhorn (scores). Parameters: vicreg sim_coeff=25 std_coeff=25 cov_coeff=1;
    /// barlow-twins lambd=0.0051; nt-xent temperature=0.5; infonce temperature=0.07;
    /// sinkhorn epsilon=0.05 iters=3.
    Loss {
        /// The loss: vicreg, barlow-twins, byol, simsiam, nt-xent, infonce, ijepa, sinkhorn.
        name: String,
        /// One input array, e.g. `--input x=views_a.npy` (repeat for every input).
        #[arg(long = "input", value_name = "KEY=FILE.npy")]
        inputs: Vec<String>,
        /// One parameter, e.g. `--param temperature=0.2` (repeatable; others keep defaults).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Print one JSON object `{"loss", "terms", "grads"}` (plus `"Q"` for sinkhorn)
        /// instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Pre-train an image encoder with a joint-embedding objective on an image set, then
    /// probe it linearly at 1/10/100 % of the training labels against the same encoder at
    /// random init and trained supervised from scratch. Writes report.json, table.md,
    /// training.svg (loss, terms, effective rank) and encoder.safetensors.
    Train {
        /// The objective (as registered in ami-jepa: vicreg, …).
        #[arg(long)]
        objective: String,
        /// Image set `.npz` (`ami data shapes`, or scripts/export_digits.py).
        #[arg(long)]
        data: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Pre-training steps (`train.steps`).
        #[arg(long)]
        steps: Option<usize>,
        /// Seed of the split, weights, batches and views (`train.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Override one setting (repeatable), e.g. `train.batch_size=256`,
        /// `encoder.channels=16,32,64`, `label_fractions=0.01,1`, `augment.kind=mild`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Video JEPA on a video set (`ami data moving-shapes`): a shared frame encoder and a
    /// predictor from the context frames' representations to a future frame's, trained with
    /// the objective on the frame representations; reports the probe of per-frame factors
    /// (positions, velocities) and the prediction error against copying the last frame's
    /// representation. Writes report.json into --out.
    Video {
        /// The objective applied to (prediction, target representation) pairs.
        #[arg(long, default_value = "vicreg")]
        objective: String,
        /// Video set `.npz`.
        #[arg(long)]
        data: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Seconds-long setting (a smoke test, not a measurement).
        #[arg(long)]
        quick: bool,
        /// Override one setting (repeatable): context, horizon, steps, batch_size, lr,
        /// predictor_hidden, test_fraction, seed, encoder.KEY.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
}

/// Runs one `ami ssl` command.
pub fn run(cmd: SslCommand) -> Result<()> {
    match cmd {
        SslCommand::Loss {
            name,
            inputs,
            params,
            json,
        } => loss(&name, &inputs, &params, json),
        SslCommand::Train {
            objective,
            data,
            out,
            steps,
            seed,
            quick,
            sets,
        } => crate::ssl_train::train(&crate::ssl_train::TrainArgs {
            objective: &objective,
            data: &data,
            out: &out,
            steps,
            seed,
            quick,
            sets: &sets,
        }),
        SslCommand::Video {
            objective,
            data,
            out,
            quick,
            sets,
        } => crate::ssl_train::video(&objective, &data, &out, quick, &sets),
    }
}

/// Splits `KEY=VALUE` of flag `--flag`.
fn key_value<'a>(flag: &str, arg: &'a str, form: &str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(anyhow!("--{flag} `{arg}`: expected {form}")),
    }
}

/// Reads `--input KEY=FILE.npy`; errors name the key and the file.
fn read_input(arg: &str) -> Result<(String, SslArray)> {
    let (key, file) = key_value("input", arg, "KEY=FILE.npy, e.g. x=views.npy")?;
    let path = Path::new(file);
    let bytes = std::fs::read(path).map_err(|e| anyhow!("--input {key}={file}: {e}"))?;
    let a = ami_io::npy::parse_npy_f64(&bytes, path, key).map_err(|e| anyhow!("--input: {e}"))?;
    Ok((key.to_string(), SslArray::new(a.shape, a.data)?))
}

fn loss(name: &str, inputs: &[String], params: &[String], as_json: bool) -> Result<()> {
    let kind = SslLossKind::from_name(name)?;
    let inputs = inputs
        .iter()
        .map(|a| read_input(a))
        .collect::<Result<Vec<_>>>()?;
    let params = params
        .iter()
        .map(|a| {
            let (k, v) = key_value("param", a, "KEY=VALUE, e.g. temperature=0.2")?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let out = evaluate(kind, &inputs, &params)?;
    if as_json {
        println!("{}", serde_json::to_string(&to_json(&out))?);
    } else {
        print!("{}", table(kind, &params, &out));
    }
    Ok(())
}

/// A C-order array as nested JSON arrays.
fn nested(shape: &[usize], data: &[f64]) -> Value {
    match shape.split_first() {
        None => json!(data[0]),
        Some((&n, rest)) => {
            let step = rest.iter().product::<usize>();
            Value::Array(
                (0..n)
                    .map(|i| nested(rest, &data[i * step..(i + 1) * step]))
                    .collect(),
            )
        }
    }
}

/// The `--json` object: `loss` (null for sinkhorn), `terms`, `grads`, and `Q` for sinkhorn.
fn to_json(out: &SslOutput) -> Value {
    let terms: Map<String, Value> = out
        .terms
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let grads: Map<String, Value> = out
        .grads
        .iter()
        .map(|(k, g)| (k.to_string(), nested(&g.shape, &g.data)))
        .collect();
    let mut obj = json!({ "loss": out.loss, "terms": terms, "grads": grads });
    if let Some(q) = &out.q {
        obj["Q"] = nested(&q.shape, &q.data);
    }
    obj
}

/// The human-readable summary.
fn table(kind: SslLossKind, given: &[(String, String)], out: &SslOutput) -> String {
    let params: Vec<String> = kind
        .params()
        .iter()
        .map(|(k, default)| {
            let v = given
                .iter()
                .rev()
                .find(|(g, _)| g == k)
                .map_or(*default, |(_, v)| v);
            format!("{k}={v}")
        })
        .collect();
    let mut s = format!("ssl loss {kind}");
    if !params.is_empty() {
        s += &format!(" ({})", params.join(", "));
    }
    s.push('\n');
    if let Some(l) = out.loss {
        s += &format!("  {:<22}{l}\n", "loss");
    }
    for (k, v) in &out.terms {
        s += &format!("  {:<22}{v}\n", format!("term {k}"));
    }
    for (k, g) in &out.grads {
        let norm = g.data.iter().map(|v| v * v).sum::<f64>().sqrt();
        let max = g.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        s += &format!(
            "  {:<22}shape {:?}, l2 norm {norm:.6e}, max |value| {max:.6e}\n",
            format!("grad {k}"),
            g.shape
        );
    }
    if let Some(q) = &out.q {
        s += &format!("  Q {:?} (--json prints every value)\n", q.shape);
        let k = q.shape[1];
        for (i, row) in q.data.chunks(k.max(1)).enumerate().take(8) {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
            s += &format!("    {i:>3}  {}\n", cells.join(" "));
        }
        if q.shape[0] > 8 {
            s += &format!("    ... {} more rows\n", q.shape[0] - 8);
        }
    }
    s
}
