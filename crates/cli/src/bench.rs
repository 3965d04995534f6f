//! `ami bench`: parses the workload selection, runs `ami_bench::suite` (the standard
//! workloads, a GEMM peak, and the end-to-end planning cost of a trained demo run) and prints
//! a table on stderr and, with `--json`, one JSON object.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use ami_bench::suite::{self, SuiteOptions};
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
    /// Conv encoder training step.
    E,
    /// All of them.
    All,
}

impl From<Workload> for suite::Workload {
    fn from(w: Workload) -> Self {
        match w {
            Workload::A => Self::A,
            Workload::B => Self::B,
            Workload::C => Self::C,
            Workload::D => Self::D,
            Workload::E => Self::E,
            Workload::All => Self::All,
        }
    }
}

/// Runs the selected workloads on the default device and prints the results.
pub fn bench(workload: Workload, json_out: bool, quick: bool, run: &Path) -> Result<()> {
    let device = Device::default();
    let opts = SuiteOptions {
        workload: workload.into(),
        quick,
        demo_run: run.to_path_buf(),
    };
    // Through `Value`, whose map sorts the keys, as the object built here before did.
    let value = serde_json::to_value(suite::run(&device, &opts)?)?;
    print_table(&value);
    if json_out {
        println!("{}", serde_json::to_string(&value)?);
    }
    Ok(())
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
        "packed AVX-512 kernel       {:>10}",
        v["packed_kernel"].as_str().unwrap_or("-")
    );
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
    eprintln!(
        "E conv train steps/s        {} {} {}",
        f(&v["conv_train_steps_per_s"]),
        f(&g["E"]),
        f(&p["E"])
    );
    eprintln!(
        "E   burn generic path       {} {} {}",
        f(&v["conv_train_steps_per_s_generic"]),
        f(&g["E_generic"]),
        f(&p["E_generic"])
    );
    if let Some(d) = v.get("end_to_end") {
        eprintln!("D end-to-end                {d}");
    }
}
