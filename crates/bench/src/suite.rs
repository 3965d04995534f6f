//! The `ami bench` suite: the selected workloads with their repetition counts, the GEMM peak
//! they are compared with, and workload D (the planning cost of a finished demo run, read from
//! its `report.json`). The CLI parses the arguments, calls [`run`] and prints the [`Report`].

use std::path::{Path, PathBuf};

use ami_agent::AgentError;
use ami_jepa::burn::tensor::Device;
use serde::Serialize;
use serde_json::Value;

use crate::{
    conv_train_steps_per_s, conv_train_steps_per_s_generic, gemm_gflops, gradient_plan_ms,
    gradient_plan_ms_generic, kernel_gemm_gflops, packed_gemm_gflops, sampling_plan_ms,
    sampling_plan_ms_generic, train_steps_per_s, train_steps_per_s_generic, workload_gflop,
    Repeats,
};

/// Which workloads to run (the GEMM peak is always measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl Workload {
    /// Whether this selection runs workload `w`.
    fn includes(self, w: Workload) -> bool {
        self == Workload::All || self == w
    }
}

/// What [`run`] measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteOptions {
    /// The workloads.
    pub workload: Workload,
    /// Few repetitions ([`QUICK`]): a smoke test, not a measurement.
    pub quick: bool,
    /// The demo run directory whose `report.json` workload D reads.
    pub demo_run: PathBuf,
}

/// The repetitions of every measurement under [`SuiteOptions::quick`].
pub const QUICK: Repeats = Repeats {
    warmup: 1,
    timed: 2,
};

/// GFLOP/s of every GEMM measured and of every workload run (JSON key in quotes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gflops {
    /// `"1024"`: burn's matmul, 1024³.
    #[serde(rename = "1024")]
    pub burn_1024: f64,
    /// `"256x512x512"`: burn's matmul at the workloads' shape.
    #[serde(rename = "256x512x512")]
    pub burn_256x512x512: f64,
    /// The kernel's general GEMM (the `gemm` crate, output columns split across the cores).
    pub kernel_1024: f64,
    /// The kernel's general GEMM at 256×512×512.
    pub kernel_256x512x512: f64,
    /// The packed-weight AVX-512 kernel (rows split), where it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_1024: Option<f64>,
    /// The packed-weight kernel at 256×512×512, where it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_256x512x512: Option<f64>,
    /// The practical peak: the best of the GEMMs above.
    pub peak: f64,
    /// The workloads' rates, per [`WorkloadFigures`] key.
    #[serde(flatten)]
    pub workloads: WorkloadFigures,
}

/// One figure per workload and path (`"A"`, `"A_generic"`, …); absent when not run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkloadFigures {
    /// Workload A on the dense kernel.
    #[serde(rename = "A", skip_serializing_if = "Option::is_none")]
    pub a: Option<f64>,
    /// Workload A on burn's generic path.
    #[serde(rename = "A_generic", skip_serializing_if = "Option::is_none")]
    pub a_generic: Option<f64>,
    /// Workload B on the dense kernel.
    #[serde(rename = "B", skip_serializing_if = "Option::is_none")]
    pub b: Option<f64>,
    /// Workload B on burn's generic path.
    #[serde(rename = "B_generic", skip_serializing_if = "Option::is_none")]
    pub b_generic: Option<f64>,
    /// Workload C on the dense kernel.
    #[serde(rename = "C", skip_serializing_if = "Option::is_none")]
    pub c: Option<f64>,
    /// Workload C on burn's generic path.
    #[serde(rename = "C_generic", skip_serializing_if = "Option::is_none")]
    pub c_generic: Option<f64>,
    /// Workload E on the dense kernel.
    #[serde(rename = "E", skip_serializing_if = "Option::is_none")]
    pub e: Option<f64>,
    /// Workload E on burn's generic path.
    #[serde(rename = "E_generic", skip_serializing_if = "Option::is_none")]
    pub e_generic: Option<f64>,
}

impl WorkloadFigures {
    /// Each figure divided by `peak`.
    fn over(&self, peak: f64) -> Self {
        let f = |x: Option<f64>| x.map(|x| x / peak);
        Self {
            a: f(self.a),
            a_generic: f(self.a_generic),
            b: f(self.b),
            b_generic: f(self.b_generic),
            c: f(self.c),
            c_generic: f(self.c_generic),
            e: f(self.e),
            e_generic: f(self.e_generic),
        }
    }
}

/// Workload D: the planning cost of a finished demo run, the fields copied from its
/// `report.json` as they are there, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EndToEnd {
    /// Read from the run's report.
    Measured {
        /// The run directory.
        run: String,
        /// Planning milliseconds per environment step.
        plan_ms_per_step: Value,
        /// Milliseconds per planning call.
        plan_ms_per_call: Value,
        /// The demo's wall time (`total_seconds`).
        demo_seconds: Value,
        /// The demo's success rate.
        success_rate: Value,
    },
    /// No finished demo report.
    Missing {
        /// What is missing and the command that makes it.
        error: String,
    },
}

/// The results of [`run`]; serialised, the JSON object of `ami bench --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Workload A on the dense kernel: median training steps per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_steps_per_s: Option<f64>,
    /// Workload A on burn's generic path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_steps_per_s_generic: Option<f64>,
    /// Workload B on the dense kernel: median milliseconds per CEM plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_plan_ms: Option<f64>,
    /// Workload B on burn's generic path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling_plan_ms_generic: Option<f64>,
    /// Workload C on the dense kernel: median milliseconds per gradient plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_plan_ms: Option<f64>,
    /// Workload C on burn's generic path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_plan_ms_generic: Option<f64>,
    /// Workload D.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<EndToEnd>,
    /// Workload E on the dense kernel: median conv-encoder training steps per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conv_train_steps_per_s: Option<f64>,
    /// Workload E on burn's generic path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conv_train_steps_per_s_generic: Option<f64>,
    /// GEMM and workload GFLOP/s.
    pub gflops: Gflops,
    /// Each workload's GFLOP/s over [`Gflops::peak`].
    pub fraction_of_gemm_peak: WorkloadFigures,
    /// Cores available to the process.
    pub threads: usize,
    /// The device, as `Debug` prints it.
    pub backend: String,
    /// The packed kernel's micro-kernel: `"avx512"`, `"avx2"` (no AVX-512F here),
    /// `"avx2 (avx512 forced off)"` (`AMI_FORCE_FALLBACK=1`: what an AVX2-only machine runs)
    /// or `"absent"` (neither; the `gemm` crate's products everywhere).
    pub packed_kernel: &'static str,
}

/// [`Report::packed_kernel`] on this machine and process.
pub fn packed_kernel_state() -> &'static str {
    use ami_agent::kernel::packed::Variant;
    match (Variant::active(), Variant::Avx512.available()) {
        (Some(Variant::Avx512), _) => "avx512",
        (Some(Variant::Avx2), true) => "avx2 (avx512 forced off)",
        (Some(Variant::Avx2), false) => "avx2",
        (None, _) => "absent",
    }
}

/// Runs the GEMM measurements and the selected workloads on `device`.
pub fn run(device: &Device, opts: &SuiteOptions) -> Result<Report, AgentError> {
    let reps = |warmup, timed| {
        if opts.quick {
            QUICK
        } else {
            Repeats { warmup, timed }
        }
    };
    let want = |w| opts.workload.includes(w);
    let burn_1024 = gemm_gflops(device, 1024, 1024, 1024, reps(2, 11))?;
    let burn_256x512x512 = gemm_gflops(device, 256, 512, 512, reps(5, 21))?;
    let kernel_1024 = kernel_gemm_gflops(1024, 1024, 1024, reps(2, 11))?;
    let kernel_256x512x512 = kernel_gemm_gflops(256, 512, 512, reps(5, 21))?;
    let packed_1024 = packed_gemm_gflops(1024, 1024, 1024, reps(2, 11))?;
    let packed_256x512x512 = packed_gemm_gflops(256, 512, 512, reps(5, 21))?;
    let peak = [burn_1024, burn_256x512x512, kernel_256x512x512]
        .into_iter()
        .chain(packed_1024)
        .chain(packed_256x512x512)
        .fold(kernel_1024, f64::max);
    let flop = workload_gflop();
    let mut report = Report {
        train_steps_per_s: None,
        train_steps_per_s_generic: None,
        sampling_plan_ms: None,
        sampling_plan_ms_generic: None,
        gradient_plan_ms: None,
        gradient_plan_ms_generic: None,
        end_to_end: None,
        conv_train_steps_per_s: None,
        conv_train_steps_per_s_generic: None,
        gflops: Gflops {
            burn_1024,
            burn_256x512x512,
            kernel_1024,
            kernel_256x512x512,
            packed_1024,
            packed_256x512x512,
            peak,
            workloads: WorkloadFigures::default(),
        },
        fraction_of_gemm_peak: WorkloadFigures::default(),
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        backend: format!("{device:?}"),
        packed_kernel: packed_kernel_state(),
    };
    let g = &mut report.gflops.workloads;
    if want(Workload::A) {
        let r = train_steps_per_s(device, reps(10, 61))?;
        report.train_steps_per_s = Some(r);
        g.a = Some(r * flop[0].1);
        let r = train_steps_per_s_generic(device, reps(3, 9))?;
        report.train_steps_per_s_generic = Some(r);
        g.a_generic = Some(r * flop[0].1);
    }
    if want(Workload::B) {
        let ms = sampling_plan_ms(device, reps(3, 20))?;
        report.sampling_plan_ms = Some(ms);
        g.b = Some(flop[1].1 / (ms / 1e3));
        let ms = sampling_plan_ms_generic(device, reps(2, 9))?;
        report.sampling_plan_ms_generic = Some(ms);
        g.b_generic = Some(flop[1].1 / (ms / 1e3));
    }
    if want(Workload::C) {
        let ms = gradient_plan_ms(device, reps(3, 20))?;
        report.gradient_plan_ms = Some(ms);
        g.c = Some(flop[2].1 / (ms / 1e3));
        let ms = gradient_plan_ms_generic(device, reps(1, 5))?;
        report.gradient_plan_ms_generic = Some(ms);
        g.c_generic = Some(flop[2].1 / (ms / 1e3));
    }
    if want(Workload::D) {
        report.end_to_end = Some(end_to_end(&opts.demo_run));
    }
    if want(Workload::E) {
        let r = conv_train_steps_per_s(device, reps(5, 31))?;
        report.conv_train_steps_per_s = Some(r);
        g.e = Some(r * flop[3].1);
        let r = conv_train_steps_per_s_generic(device, reps(2, 7))?;
        report.conv_train_steps_per_s_generic = Some(r);
        g.e_generic = Some(r * flop[3].1);
    }
    report.fraction_of_gemm_peak = report.gflops.workloads.over(peak);
    Ok(report)
}

/// Workload D from a finished demo run's `report.json` (planning ms per environment step and
/// the demo's wall time); an explanation instead of numbers when there is no such run.
pub fn end_to_end(run: &Path) -> EndToEnd {
    let path = run.join("report.json");
    match std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        Some(r) if r.get("total_seconds").is_some() => EndToEnd::Measured {
            run: run.display().to_string(),
            plan_ms_per_step: r["plan_ms_per_step"].clone(),
            plan_ms_per_call: r["plan_ms_per_call"].clone(),
            demo_seconds: r["total_seconds"].clone(),
            success_rate: r["success_rate"].clone(),
        },
        _ => EndToEnd::Missing {
            error: format!(
                "no demo report at {}: run `ami demo --out {}` first",
                path.display(),
                run.display()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(workloads: WorkloadFigures, end_to_end: Option<EndToEnd>) -> Report {
        Report {
            train_steps_per_s: workloads.a,
            train_steps_per_s_generic: workloads.a_generic,
            sampling_plan_ms: None,
            sampling_plan_ms_generic: None,
            gradient_plan_ms: None,
            gradient_plan_ms_generic: None,
            end_to_end,
            conv_train_steps_per_s: workloads.e,
            conv_train_steps_per_s_generic: None,
            gflops: Gflops {
                burn_1024: 1.0,
                burn_256x512x512: 2.0,
                kernel_1024: 3.0,
                kernel_256x512x512: 4.0,
                packed_1024: None,
                packed_256x512x512: Some(5.0),
                peak: 5.0,
                workloads: workloads.clone(),
            },
            fraction_of_gemm_peak: workloads.over(5.0),
            threads: 2,
            backend: "cpu".into(),
            packed_kernel: "avx512",
        }
    }

    /// The object's keys, sorted.
    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn report_serialises_to_the_keys_of_ami_bench_json() {
        let a = WorkloadFigures {
            a: Some(10.0),
            a_generic: Some(5.0),
            ..WorkloadFigures::default()
        };
        let v = serde_json::to_value(report(a, None)).unwrap();
        let mut want = vec![
            "backend",
            "fraction_of_gemm_peak",
            "gflops",
            "packed_kernel",
            "threads",
            "train_steps_per_s",
            "train_steps_per_s_generic",
        ];
        want.sort_unstable();
        assert_eq!(keys(&v), want);
        assert_eq!(v["packed_kernel"], "avx512");
        let gflops = [
            "1024",
            "256x512x512",
            "A",
            "A_generic",
            "kernel_1024",
            "kernel_256x512x512",
            "packed_256x512x512",
            "peak",
        ];
        assert_eq!(keys(&v["gflops"]), gflops);
        assert_eq!(keys(&v["fraction_of_gemm_peak"]), ["A", "A_generic"]);
        assert_eq!(v["fraction_of_gemm_peak"]["A"], 2.0);
    }

    #[test]
    fn end_to_end_copies_the_demo_report_or_says_what_to_run() {
        let dir = std::env::temp_dir().join(format!("ami-bench-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = serde_json::to_value(end_to_end(&dir)).unwrap();
        let error = missing["error"].as_str().unwrap();
        assert!(error.contains("ami demo --out"), "{error}");
        let text = r#"{"total_seconds": 12, "plan_ms_per_step": 3.5, "success_rate": 0.9}"#;
        std::fs::write(dir.join("report.json"), text).unwrap();
        let got = serde_json::to_value(end_to_end(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let want = [
            "demo_seconds",
            "plan_ms_per_call",
            "plan_ms_per_step",
            "run",
            "success_rate",
        ];
        assert_eq!(keys(&got), want);
        // Copied as written: the integer stays an integer, the absent field is null.
        assert_eq!(got["demo_seconds"].to_string(), "12");
        assert!(got["plan_ms_per_call"].is_null());
        assert_eq!(got["plan_ms_per_step"], 3.5);
    }
}
