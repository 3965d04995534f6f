//! Measures the dense kernel's GEMM on the shapes of workloads B and C, on one thread and on
//! all cores, to choose `kernel::gemm::threading`:
//! `cargo run --release -p ami-bench --example kernel_shapes`.

use std::time::Instant;

use ami_agent::kernel::gemm::{matmul_with, Epilogue, Rhs, Threads};

fn gflops(m: usize, k: usize, n: usize, rhs: Rhs, par: Threads) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; m * n];
    let reps = (2e9 / (2.0 * (m * k * n) as f64)).clamp(5.0, 2000.0) as usize;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        for _ in 0..reps {
            matmul_with(&mut c, &a, &b, (m, k, n), (rhs, false, Epilogue::None), par);
        }
        times.push(t0.elapsed().as_secs_f64() / reps as f64);
    }
    times.sort_by(f64::total_cmp);
    2.0 * (m * k * n) as f64 / times[2] / 1e9
}

fn main() {
    let shapes = [
        ("B fwd 1", 512, 130, 512, Rhs::Plain),
        ("B fwd 2", 512, 512, 512, Rhs::Plain),
        ("B fwd 3", 512, 512, 128, Rhs::Plain),
        ("C fwd 1", 32, 130, 512, Rhs::Plain),
        ("C fwd 2", 32, 512, 512, Rhs::Plain),
        ("C fwd 3", 32, 512, 128, Rhs::Plain),
        ("C bwd 3", 32, 128, 512, Rhs::Transposed),
        ("C bwd 2", 32, 512, 512, Rhs::Transposed),
        ("C bwd 1", 32, 512, 130, Rhs::Transposed),
        ("1024³", 1024, 1024, 1024, Rhs::Plain),
    ];
    println!("shape        m    k    n   MACs      1 thread gemm-rayon columns (GFLOP/s)");
    for (name, m, k, n, rhs) in shapes {
        let one = gflops(m, k, n, rhs, Threads::One);
        let all = gflops(m, k, n, rhs, Threads::Gemm);
        let cols = gflops(m, k, n, rhs, Threads::Columns);
        let macs = m * k * n;
        println!("{name:8} {m:5} {k:4} {n:4} {macs:9} {one:9.1} {all:9.1} {cols:9.1}");
    }
}
