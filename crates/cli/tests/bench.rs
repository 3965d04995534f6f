//! `ami bench --workload E --quick --json` runs the conv training step on both paths and prints
//! one JSON object whose figures are finite and positive and whose fractions of the GEMM peak
//! are consistent with the GFLOP/s it reports. (Speed is measured, never asserted.)

mod common;

use common::{ami, ok};

#[test]
fn bench_workload_e_prints_conv_training_figures() {
    let run = ok(&["bench", "--workload", "E", "--quick", "--json"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    for key in ["conv_train_steps_per_s", "conv_train_steps_per_s_generic"] {
        let x = v[key].as_f64().unwrap_or(f64::NAN);
        assert!(x.is_finite() && x > 0.0, "{key}: {}", v[key]);
    }
    assert!(v.get("train_steps_per_s").is_none(), "only E was asked for");
    let (g, peak) = (
        v["gflops"]["E"].as_f64().unwrap(),
        v["gflops"]["peak"].as_f64().unwrap(),
    );
    let steps = v["conv_train_steps_per_s"].as_f64().unwrap();
    assert!(
        (g - steps * 2.894_069_76).abs() < 1e-6 * g,
        "GFLOP/s = steps/s × 2.894 GFLOP"
    );
    let frac = v["fraction_of_gemm_peak"]["E"].as_f64().unwrap();
    assert!((frac - g / peak).abs() < 1e-9, "{frac} vs {g}/{peak}");
    let table = String::from_utf8_lossy(&run.stderr);
    assert!(table.contains("E conv train steps/s"), "{table}");
}

#[test]
fn forcing_the_fallback_runs_the_avx2_micro_kernel_and_the_workloads_still_run() {
    let json = |out: &std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .expect("a JSON line")
            .to_string();
        serde_json::from_str(&line).unwrap()
    };
    let args = ["bench", "--workload", "B", "--quick", "--json"];
    let forced = json(
        &std::process::Command::new(env!("CARGO_BIN_EXE_ami"))
            .args(args)
            .env("AMI_FORCE_FALLBACK", "1")
            .output()
            .unwrap(),
    );
    let native = json(&ok(&args));
    // Forced, an AVX-512 machine runs the AVX2 micro-kernel; other machines are unchanged.
    let expected = match native["packed_kernel"].as_str().unwrap() {
        "avx512" => "avx2 (avx512 forced off)",
        other => other,
    };
    assert_eq!(forced["packed_kernel"], expected);
    let runs = expected != "absent";
    assert_eq!(forced["gflops"]["packed_1024"].is_null(), !runs);
    assert_eq!(native["gflops"]["packed_1024"].is_null(), !runs);
    let ms = forced["sampling_plan_ms"].as_f64().unwrap_or(f64::NAN);
    assert!(ms.is_finite() && ms > 0.0, "{}", forced["sampling_plan_ms"]);
}

#[test]
fn bench_rejects_an_unknown_workload() {
    let run = ami(&["bench", "--workload", "F"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("'F'"));
}
