"""Shared definitions for the peer benchmarks (shapes, seeds, init, FLOP counts, timing)."""
import argparse
import json
import os
import statistics
import time

import numpy as np

SEED = 0
OBS, ACT, EMB, HID = 64, 2, 128, 512
BATCH = 256
ENC_DIMS = [OBS, HID, HID, EMB]
PRED_DIMS = [EMB + ACT, HID, HID, EMB]
# VICReg / loss
SIM_W, VAR_W, COV_W, VAR_EPS = 25.0, 25.0, 1.0, 1e-4
LR_TRAIN, WEIGHT_DECAY, BETAS, ADAM_EPS = 1e-3, 0.01, (0.9, 0.999), 1e-8
# CEM
CEM_N, CEM_H, CEM_ITERS, CEM_ELITES = 512, 16, 6, 64
# gradient planner
GP_N, GP_H, GP_STEPS, GP_LR, GP_INIT_NOISE = 32, 16, 20, 0.1, 0.01
# E: conv encoder training step (two batches [CONV_BATCH, 2, 32, 32])
CONV_BATCH, CONV_IN, CONV_RES = 256, 2, 32
CONV_CHANNELS = [CONV_IN, 16, 32]          # 3x3, stride 2, padding 1, ReLU after each
CONV_FLAT = 32 * 8 * 8                     # 2048, channel-major flatten of [32, 8, 8]
CONV_HEAD = [CONV_FLAT, 256, 128]          # Linear -> ReLU -> Linear


def mlp_params(dims, rng):
    """PyTorch-nn.Linear-like init U(-1/sqrt(fan_in), 1/sqrt(fan_in)); W stored [in, out]."""
    ps = []
    for i, o in zip(dims[:-1], dims[1:]):
        b = 1.0 / np.sqrt(i)
        ps.append((rng.uniform(-b, b, (i, o)).astype(np.float32),
                   rng.uniform(-b, b, (o,)).astype(np.float32)))
    return ps


def make_problem():
    """Everything both peers share, as numpy float32 arrays built from one seed."""
    rng = np.random.default_rng(SEED)
    return {
        "enc": mlp_params(ENC_DIMS, rng),
        "pred": mlp_params(PRED_DIMS, rng),
        "o_t": rng.standard_normal((BATCH, OBS), dtype=np.float32),
        "a_t": rng.standard_normal((BATCH, ACT), dtype=np.float32),
        "o_t1": rng.standard_normal((BATCH, OBS), dtype=np.float32),
        "s0": rng.standard_normal((EMB,), dtype=np.float32),
        "goal": rng.standard_normal((EMB,), dtype=np.float32),
        "gp_init": (GP_INIT_NOISE * rng.standard_normal((GP_N, GP_H, ACT))).astype(np.float32),
    }


def conv_params(rng):
    """PyTorch-nn.Conv2d-like init U(+-1/sqrt(C_in*9)); weight [C_out, C_in, 3, 3]."""
    ps = []
    for i, o in zip(CONV_CHANNELS[:-1], CONV_CHANNELS[1:]):
        b = 1.0 / np.sqrt(i * 9)
        ps.append((rng.uniform(-b, b, (o, i, 3, 3)).astype(np.float32),
                   rng.uniform(-b, b, (o,)).astype(np.float32)))
    return ps


def make_conv_problem():
    """Workload E's weights and the two image batches, from their own seeded stream."""
    rng = np.random.default_rng(SEED + 5)
    shape = (CONV_BATCH, CONV_IN, CONV_RES, CONV_RES)
    return {
        "conv": conv_params(rng),
        "head": mlp_params(CONV_HEAD, rng),
        "x": rng.standard_normal(shape, dtype=np.float32),
        "y": rng.standard_normal(shape, dtype=np.float32),
    }


def conv_fwd_flops(rows):
    """Multiply-adds x 2 of the conv encoder on `rows` images (32 -> 16 -> 8 pixels)."""
    flops, res = 0, CONV_RES
    for i, o in zip(CONV_CHANNELS[:-1], CONV_CHANNELS[1:]):
        res //= 2
        flops += 2 * rows * res * res * o * i * 9
    return flops + _mlp_fwd_flops(CONV_HEAD, rows)


def _mlp_fwd_flops(dims, rows):
    return sum(2 * rows * i * o for i, o in zip(dims[:-1], dims[1:]))


def workload_gflop():
    """Analytic FLOP counts (matmuls only; elementwise ops, biases and optimizer ignored).
    A: forward = 2 encoder passes + 1 predictor pass on the batch + the two 128x128 covariance
       products; backward counted as 2x forward (input + weight gradients) -> 3x forward.
    B: forward only: iters * H * N predictor rows.
    C: forward + backward w.r.t. the actions only (predictor weights fixed, so backward
       = input gradients only ~ 1x forward) -> 2x forward, times the 20 Adam steps."""
    fwd_a = (2 * _mlp_fwd_flops(ENC_DIMS, BATCH) + _mlp_fwd_flops(PRED_DIMS, BATCH)
             + 2 * 2 * BATCH * EMB * EMB)
    a = 3 * fwd_a
    b = _mlp_fwd_flops(PRED_DIMS, CEM_ITERS * CEM_H * CEM_N)
    c = 2 * GP_STEPS * _mlp_fwd_flops(PRED_DIMS, GP_N * GP_H)
    emb = CONV_HEAD[-1]
    e = 3 * (conv_fwd_flops(2 * CONV_BATCH) + 2 * 2 * CONV_BATCH * emb * emb)
    return {"A": a / 1e9, "B": b / 1e9, "C": c / 1e9, "E": e / 1e9}


def parse_args(desc):
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--workload", choices=["A", "B", "C", "E", "all"], default="all")
    p.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    return p.parse_args()


def reps(quick):
    """(train warm-up steps, train repetitions, steps per repetition, plan warm-up, plans, gemm reps)"""
    if quick:
        return dict(tw=2, tr=2, ts=3, pw=1, pn=3, gw=1, gn=3)
    return dict(tw=10, tr=5, ts=20, pw=3, pn=20, gw=3, gn=20)


def median_time(fn, warmup, n):
    """fn() must block until its result is ready. Returns median seconds per call."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def train_rate(step, r):
    """Median over repetitions of steps/s; step() must block."""
    for _ in range(r["tw"]):
        step()
    rates = []
    for _ in range(r["tr"]):
        t0 = time.perf_counter()
        for _ in range(r["ts"]):
            step()
        rates.append(r["ts"] / (time.perf_counter() - t0))
    return statistics.median(rates)


GEMM_SHAPES = {"1024": (1024, 1024, 1024), "256x512x512": (256, 512, 512)}


def emit(result):
    print(json.dumps(result))


def run_workloads(workload, peer, version, threads, bench):
    """Runs the selected workloads and prints the peer's JSON object.

    bench: {"A": f, "B": f, "C": f, "E": f, "gemm": f}, each a zero-argument callable."""
    want = lambda k: workload in (k, "all")
    emit({"peer": peer, "version": version, "threads": threads, "weight_decay": WEIGHT_DECAY,
          "train_steps_per_s": bench["A"]() if want("A") else None,
          "sampling_plan_ms": bench["B"]() if want("B") else None,
          "gradient_plan_ms": bench["C"]() if want("C") else None,
          "conv_train_steps_per_s": bench["E"]() if want("E") else None,
          "gemm_gflops": bench["gemm"]() if workload == "all" else None,
          "workload_gflop": workload_gflop()})


def cpu_threads():
    return os.cpu_count()
