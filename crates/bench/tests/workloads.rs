//! The benchmark workloads run and report finite, positive figures; the FLOP counts match a
//! hand computation. (Speed itself is measured by `ami bench`, never asserted.)

use ami_bench::{
    conv_train_steps_per_s, conv_train_steps_per_s_generic, gemm_gflops, gradient_plan_ms,
    gradient_plan_ms_generic, kernel_gemm_gflops, sampling_plan_ms, sampling_plan_ms_generic,
    train_steps_per_s, workload_gflop, Repeats,
};
use ami_jepa::burn::tensor::Device;

const ONCE: Repeats = Repeats {
    warmup: 0,
    timed: 1,
};

#[test]
fn workloads_run_and_report_positive_finite_figures() {
    let d = Device::flex();
    for v in [
        gemm_gflops(&d, 64, 64, 64, ONCE).unwrap(),
        train_steps_per_s(&d, ONCE).unwrap(),
        sampling_plan_ms(&d, ONCE).unwrap(),
        gradient_plan_ms(&d, ONCE).unwrap(),
        sampling_plan_ms_generic(&d, ONCE).unwrap(),
        gradient_plan_ms_generic(&d, ONCE).unwrap(),
        kernel_gemm_gflops(64, 64, 64, ONCE).unwrap(),
        conv_train_steps_per_s(&d, ONCE).unwrap(),
        conv_train_steps_per_s_generic(&d, ONCE).unwrap(),
    ] {
        assert!(v.is_finite() && v > 0.0, "{v}");
    }
}

#[test]
fn flop_counts_match_hand_computation() {
    // enc = 2·(64·512 + 512·512 + 512·128) = 720 896; pred = 2·(130·512 + 512·512 + 512·128) = 788 480
    // covariance products: 2 branches × 2·128·128·256.
    // A = 3 · (256 · (2·enc + pred) + cov); B = 6 · 512 · 16 · pred; C = 20 · 2 · 32 · 16 · pred.
    // These equal the peers' counts (bench/peers): A 1.763, B 38.76, C 16.15 GFLOP.
    let [a, b, c, e] = workload_gflop();
    let cov = 2.0 * 2.0 * 128.0 * 128.0 * 256.0;
    assert!((a.1 - 3.0 * (256.0 * (2.0 * 720_896.0 + 788_480.0) + cov) / 1e9).abs() < 1e-9);
    assert!((b.1 - 6.0 * 512.0 * 16.0 * 788_480.0 / 1e9).abs() < 1e-9);
    assert!((c.1 - 20.0 * 2.0 * 32.0 * 16.0 * 788_480.0 / 1e9).abs() < 1e-9);
    assert!((a.1 - 1.763).abs() < 1e-3 && (b.1 - 38.76).abs() < 1e-2 && (c.1 - 16.15).abs() < 1e-2);
    // E: per image conv1 2·16·16·16·18 = 147 456, conv2 2·8·8·32·144 = 589 824,
    // head 2·(2048·256 + 256·128) = 1 114 112; 512 images, plus the covariance products.
    let per_image = 147_456.0 + 589_824.0 + 1_114_112.0;
    assert!((e.1 - 3.0 * (512.0 * per_image + cov) / 1e9).abs() < 1e-9);
    assert!((e.1 - 2.894).abs() < 1e-3, "{}", e.1);
}
