//! `ami bench`: the standard workloads of `ami_bench`, a GEMM peak, and the end-to-end
//! planning cost of a trained demo run; a table on stderr and, with `--json`, one JSON object.

use std::path::Path;

use anyhow::Result;
use serde_json::{json, Map, Value};

use ami_bench::{
    gemm_gflops, gradient_plan_ms, gradient_plan_ms_generic, kernel_gemm_gflops,
    packed_gemm_gflops, sampling_plan_ms, sampling_plan_ms_generic, train_steps_per_s,
    train_steps_per_s_generic, workload_gflop, Repeats,
};
use ami_jepa::burn::tensor::Device;

/// Which workloads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Training step.
    A,
    /// Sampling (CEM) plan.
    B,
    /// Gradient plan.
    C,
    /// End-to-end planning of a trained demo run.
    D,
    /// All of them.
    All,
}

/// Runs the selected workloads and prints the results.
pub fn bench(workload: Workload, json_out: bool, quick: bool, run: &Path) -> Result<()> {
    let device = Device::default();
    let reps = |w, t| {
        if quick {
            Repeats {
                warmup: 1,
                timed: 2,
            }
        } else {
            Repeats {
                warmup: w,
                timed: t,
            }
        }
    };
    let want = |w: Workload| workload == Workload::All || workload == w;
    let mut out = Map::new();
    let mut gflops = Map::new();
    gflops.insert(
        "1024".into(),
        json!(gemm_gflops(&device, 1024, 1024, 1024, reps(2, 11))?),
    );
    gflops.insert(
        "256x512x512".into(),
        json!(gemm_gflops(&device, 256, 512, 512, reps(5, 21))?),
    );
    // The practical peak: the best of every GEMM measured here — burn's matmul, the kernel's
    // general GEMM (the `gemm` crate, output columns split across the cores) and its
    // packed-weight AVX-512 kernel (rows split), at 1024³ and at the workloads' 256×512×512.
    let general = kernel_gemm_gflops(1024, 1024, 1024, reps(2, 11))?;
    gflops.insert("kernel_1024".into(), json!(general));
    gflops.insert(
        "kernel_256x512x512".into(),
        json!(kernel_gemm_gflops(256, 512, 512, reps(5, 21))?),
    );
    if let Some(p) = packed_gemm_gflops(1024, 1024, 1024, reps(2, 11))? {
        gflops.insert("packed_1024".into(), json!(p));
    }
    if let Some(p) = packed_gemm_gflops(256, 512, 512, reps(5, 21))? {
        gflops.insert("packed_256x512x512".into(), json!(p));
    }
    let peak = gflops
        .values()
        .filter_map(Value::as_f64)
        .fold(general, f64::max);
    gflops.insert("peak".into(), json!(peak));
    let flop = workload_gflop();
    if want(Workload::A) {
        let r = train_steps_per_s(&device, reps(10, 61))?;
        out.insert("train_steps_per_s".into(), json!(r));
        gflops.insert("A".into(), json!(r * flop[0].1));
        let r = train_steps_per_s_generic(&device, reps(3, 9))?;
        out.insert("train_steps_per_s_generic".into(), json!(r));
        gflops.insert("A_generic".into(), json!(r * flop[0].1));
    }
    if want(Workload::B) {
        let ms = sampling_plan_ms(&device, reps(3, 20))?;
        out.insert("sampling_plan_ms".into(), json!(ms));
        gflops.insert("B".into(), json!(flop[1].1 / (ms / 1e3)));
        let ms = sampling_plan_ms_generic(&device, reps(2, 9))?;
        out.insert("sampling_plan_ms_generic".into(), json!(ms));
        gflops.insert("B_generic".into(), json!(flop[1].1 / (ms / 1e3)));
    }
    if want(Workload::C) {
        let ms = gradient_plan_ms(&device, reps(3, 20))?;
        out.insert("gradient_plan_ms".into(), json!(ms));
        gflops.insert("C".into(), json!(flop[2].1 / (ms / 1e3)));
        let ms = gradient_plan_ms_generic(&device, reps(1, 5))?;
        out.insert("gradient_plan_ms_generic".into(), json!(ms));
        gflops.insert("C_generic".into(), json!(flop[2].1 / (ms / 1e3)));
    }
    if want(Workload::D) {
        out.insert("end_to_end".into(), end_to_end(run));
    }
    let fractions: Map<String, Value> = ["A", "B", "C", "A_generic", "B_generic", "C_generic"]
        .iter()
        .filter_map(|k| Some((k.to_string(), json!(gflops.get(*k)?.as_f64()? / peak))))
        .collect();
    out.insert("gflops".into(), Value::Object(gflops));
    out.insert("fraction_of_gemm_peak".into(), Value::Object(fractions));
    out.insert(
        "threads".into(),
        json!(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)),
    );
    out.insert("backend".into(), json!(format!("{device:?}")));
    let value = Value::Object(out);
    print_table(&value);
    if json_out {
        println!("{}", serde_json::to_string(&value)?);
    }
    Ok(())
}

/// Workload D from a finished demo run's `report.json` (planning ms per environment step and
/// the demo's wall time); an explanation instead of numbers when there is no such run.
fn end_to_end(run: &Path) -> Value {
    let path = run.join("report.json");
    match std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        Some(r) if r.get("total_seconds").is_some() => json!({
            "run": run.display().to_string(),
            "plan_ms_per_step": r["plan_ms_per_step"],
            "plan_ms_per_call": r["plan_ms_per_call"],
            "demo_seconds": r["total_seconds"],
            "success_rate": r["success_rate"],
        }),
        _ => {
            json!({ "error": format!("no demo report at {}: run `ami demo --out {}` first", path.display(), run.display()) })
        }
    }
}

fn print_table(v: &Value) {
    let f = |x: &Value| {
        x.as_f64()
            .map(|x| format!("{x:>10.2}"))
            .unwrap_or_else(|| format!("{:>10}", "-"))
    };
    eprintln!("workload                         value   GFLOP/s  of peak");
    let g = &v["gflops"];
    let p = &v["fraction_of_gemm_peak"];
    eprintln!("GEMM 1024³ (GFLOP/s)        {}", f(&g["1024"]));
    eprintln!("GEMM 256×512×512 (GFLOP/s)  {}", f(&g["256x512x512"]));
    eprintln!("GEMM 1024³ kernel (gemm)    {}", f(&g["kernel_1024"]));
    eprintln!(
        "GEMM 256×512×512 kernel     {}",
        f(&g["kernel_256x512x512"])
    );
    eprintln!("GEMM 1024³ packed kernel    {}", f(&g["packed_1024"]));
    eprintln!(
        "GEMM 256×512×512 packed     {}",
        f(&g["packed_256x512x512"])
    );
    eprintln!("GEMM peak (best of above)   {}", f(&g["peak"]));
    eprintln!(
        "A train steps/s             {} {} {}",
        f(&v["train_steps_per_s"]),
        f(&g["A"]),
        f(&p["A"])
    );
    eprintln!(
        "A   burn generic path       {} {} {}",
        f(&v["train_steps_per_s_generic"]),
        f(&g["A_generic"]),
        f(&p["A_generic"])
    );
    eprintln!(
        "B sampling plan ms          {} {} {}",
        f(&v["sampling_plan_ms"]),
        f(&g["B"]),
        f(&p["B"])
    );
    eprintln!(
        "B   burn generic path       {} {} {}",
        f(&v["sampling_plan_ms_generic"]),
        f(&g["B_generic"]),
        f(&p["B_generic"])
    );
    eprintln!(
        "C gradient plan ms          {} {} {}",
        f(&v["gradient_plan_ms"]),
        f(&g["C"]),
        f(&p["C"])
    );
    eprintln!(
        "C   burn generic path       {} {} {}",
        f(&v["gradient_plan_ms_generic"]),
        f(&g["C_generic"]),
        f(&p["C_generic"])
    );
    if let Some(d) = v.get("end_to_end") {
        eprintln!("D end-to-end                {d}");
    }
}
