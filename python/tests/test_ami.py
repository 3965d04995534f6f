"""Tests of the Python bindings: a tiny run is trained once from numpy arrays (the `tiny`
preset, 20 trajectories: a few seconds), then loaded and used."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ami

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data() -> ami.Dataset:
    return ami.generate_data(preset="tiny", trajectories=20, seed=3)


@pytest.fixture(scope="module")
def run(data: ami.Dataset, tmp_path_factory: pytest.TempPathFactory) -> ami.Run:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    return ami.train(data.observations, data.actions, data.states, out, preset="tiny")


def test_data_has_the_shapes_of_the_environment(data: ami.Dataset) -> None:
    obs, act, states = data
    assert obs.dtype == act.dtype == states.dtype == np.float32
    assert obs.shape[:2] == (20, 33) and obs.shape[2:] == (2, 16, 16)
    assert act.shape == (20, 32, 2)
    assert states.shape == (20, 33, 2)
    again = ami.generate_data(preset="tiny", trajectories=20, seed=3)
    other = ami.generate_data(preset="tiny", trajectories=20, seed=4)
    assert np.array_equal(obs, again.observations)
    assert not np.array_equal(act, other.actions)


def test_a_trained_run_reports_its_shapes_and_config(run: ami.Run, data: ami.Dataset) -> None:
    assert run.obs_shape == data.observations.shape[2:]
    assert run.action_dim == data.actions.shape[-1]
    assert run.repr_dim > 0
    assert run.horizon == run.config["agent"]["horizon"]
    assert run.config["train"]["steps"] == 30
    assert run.config["env"]["kind"] == "two-rooms"
    assert "[train]" in run.config_toml
    assert (run.path / "config.toml").read_text() == run.config_toml
    assert (run.path / "checkpoint").is_dir()
    assert "ami.Run(" in repr(run)


def test_encode_is_deterministic_and_batched(run: ami.Run, data: ami.Dataset) -> None:
    obs = data.observations[0]
    z = run.encode(obs)
    assert z.shape == (obs.shape[0], run.repr_dim) and z.dtype == np.float32
    assert np.all(np.isfinite(z))
    assert np.array_equal(z, run.encode(obs))
    # One observation without the batch axis is the same row.
    assert np.array_equal(run.encode(obs[5]), z[5])
    # Float64 and non-contiguous inputs are converted, with the same result.
    assert np.array_equal(run.encode(obs.astype(np.float64)), z)
    assert np.array_equal(run.encode(obs[::2]), z[::2])
    # A second load of the same directory computes the same values.
    assert np.array_equal(ami.load_run(run.path).encode(obs), z)
    # Different observations give different representations.
    assert not np.allclose(z[0], z[-1])


def test_rollout_starts_at_the_encoding_and_matches_the_planner(
    run: ami.Run, data: ami.Dataset
) -> None:
    obs, act = data.observations[:3, 0], data.actions[:3, :5]
    states = run.rollout(obs, act)
    assert states.shape == (3, 6, run.repr_dim) and states.dtype == np.float32
    assert np.array_equal(states[:, 0], run.encode(obs))
    # From representations: the same rollout.
    assert np.array_equal(run.rollout(run.encode(obs), act, from_repr=True), states)
    # Unbatched.
    assert np.array_equal(run.rollout(obs[1], act[1]), states[1])
    # Actions matter.
    assert not np.allclose(run.rollout(obs, np.zeros_like(act))[:, -1], states[:, -1])
    # The planner's own prediction of its plan is this rollout (Rust computes both).
    plan = run.plan_details(data.observations[0, 0], data.observations[0, -1])
    imagined = run.rollout(data.observations[0, 0], plan.actions)
    np.testing.assert_allclose(imagined[1:], plan.predicted_states, rtol=1e-5, atol=1e-5)


def test_plan_returns_bounded_deterministic_actions(run: ami.Run, data: ami.Dataset) -> None:
    start, goal = data.observations[1, 0], data.observations[1, -1]
    actions = run.plan(start, goal)
    assert actions.shape == (run.horizon, run.action_dim) and actions.dtype == np.float32
    assert np.all(np.isfinite(actions))
    norms = np.linalg.norm(actions, axis=1)
    assert np.all(norms <= run.max_action_norm * (1 + 1e-5)), norms
    assert np.any(norms > 0)
    assert np.array_equal(run.plan(start, goal), actions)
    assert np.array_equal(run.plan(start, goal, seed=run.config["train"]["seed"]), actions)
    assert not np.array_equal(run.plan(start, goal, seed=12345), actions)
    details = run.plan_details(start, goal)
    assert np.array_equal(details.actions, actions)
    assert np.isfinite(details.cost) and details.safe
    assert abs(sum(c for _, c in details.cost_breakdown) - details.cost) <= 1e-3 * max(1.0, abs(details.cost))


def test_bad_shapes_and_dtypes_raise_value_errors_naming_the_argument(
    run: ami.Run, data: ami.Dataset
) -> None:
    with pytest.raises(ValueError, match=r"obs: expected shape \(N, 2, 16, 16\) or \(2, 16, 16\), got \(16, 16\)"):
        run.encode(np.zeros((16, 16), np.float32))
    with pytest.raises(ValueError, match=r"actions: expected shape \(N=3, H, 2\), got \(3, 5, 3\)"):
        run.rollout(data.observations[:3, 0], np.zeros((3, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"start: expected shape \(N, %d\)" % run.repr_dim):
        run.rollout(np.zeros((3, run.repr_dim + 1), np.float32), np.zeros((3, 5, 2)), from_repr=True)
    with pytest.raises(ValueError, match=r"goal: expected shape \(2, 16, 16\)"):
        run.plan(data.observations[0, 0], data.observations[0, :2])
    with pytest.raises(ValueError, match=r"obs: expected a real-valued .*dtype <U1"):
        run.encode(np.array(["a"]))
    obs, act, states = data
    with pytest.raises(ValueError, match=r"actions: expected shape \(20, 32, 2\)"):
        ami.train(obs, act[:, :-1], states, "unused", preset="tiny")
    with pytest.raises(ValueError, match=r"observations: expected shape \(T, L\+1, 2, 16, 16\)"):
        ami.train(obs[..., :8], act, states, "unused", preset="tiny")
    assert not Path("unused").exists()


def test_bad_configuration_values_raise_value_errors_naming_the_key() -> None:
    text = ami.build_config({"train": {"steps": 7}}, preset="tiny")
    assert "steps = 7" in text
    assert "steps = 9" in ami.build_config("[train]\nsteps = 9\n", preset="tiny")
    assert "steps = 11" in ami.build_config(preset="tiny", sets=["train.steps=11"])
    with pytest.raises(ValueError, match="no_such_key"):
        ami.build_config({"train": {"no_such_key": 1}}, preset="tiny")
    with pytest.raises(ValueError, match="--preset"):
        ami.build_config(preset="huge")
    with pytest.raises(ValueError, match=r"train.steps|steps"):
        ami.build_config(preset="tiny", sets=["train.steps=-1"])


def test_training_releases_the_gil(data: ami.Dataset, tmp_path: Path) -> None:
    """While `ami.train` runs in one thread, another keeps running Python: the longest pause
    of a busy loop during the call is a small part of the call (with the GIL held it would
    be all of it)."""
    span: dict[str, float] = {}

    def work() -> None:
        span["start"] = time.perf_counter()
        ami.train(*data, tmp_path / "gil", preset="tiny", sets=["train.steps=100"])
        span["end"] = time.perf_counter()

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if span["start"] <= t <= span["end"]]
    duration = span["end"] - span["start"]
    longest = float(np.max(np.diff([span["start"], *inside, span["end"]])))
    assert duration > 0.2, duration
    assert longest < 0.5 * duration, (longest, duration)


def test_a_missing_run_directory_raises_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(FileNotFoundError, match="no-such-run: no such run directory"):
        ami.load_run(missing)
    with pytest.raises(FileNotFoundError, match=r"not a run directory \(no config.toml\)"):
        ami.load_run(tmp_path)


def test_a_run_without_checkpoint_raises_os_error(run: ami.Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(run.path / "config.toml", broken / "config.toml")
    with pytest.raises(OSError, match="checkpoint"):
        ami.load_run(broken)


def _ami_binary() -> Path | None:
    """The `ami` binary of this checkout (`AMI_BIN`, else target/release/ami), if built."""
    candidates = [os.environ.get("AMI_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    candidates += [str(Path(target) / "release" / "ami"), str(REPO / "target" / "release" / "ami")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


def _run_files(root: Path) -> list[Path]:
    """The files of a run that training writes (not its lock or plots), relative to it."""
    names = ["config.toml", "metrics.jsonl", "probe.json", "coverage.json", "readout_head.json"]
    files = [Path(n) for n in names if (root / n).is_file()]
    files += sorted(f.relative_to(root) for f in (root / "checkpoint").rglob("*") if f.is_file())
    return files


def test_train_from_arrays_writes_the_run_ami_train_writes(tmp_path: Path) -> None:
    """`ami.train` on the arrays of a dataset file = `ami train` on that file, byte for byte
    (config, checkpoint, probe, coverage, metrics) when it is the process's first training,
    as `ami train` is; a later training in the same process writes the same weights and
    files except burn's parameter ids in the `.bpk` records, which count the process's
    initialisations (crates/jepa/src/param_ids.rs)."""
    binary = _ami_binary()
    if binary is None:
        pytest.skip("the ami binary is not built (cargo build --release -p ami, or set AMI_BIN)")
    data = tmp_path / "d.npz"
    preset = ["--preset", "tiny"]
    subprocess.run(
        [binary, "data", "two-rooms", "--transitions", "640", "--seed", "5", "--out", data, *preset],
        check=True,
        capture_output=True,
    )
    cli = tmp_path / "cli"
    subprocess.run([binary, "train", "--data", data, "--out", cli, *preset], check=True, capture_output=True)
    files = _run_files(cli)
    assert Path("checkpoint/model.safetensors") in files and Path("probe.json") in files
    # A fresh interpreter: its first training.
    script = (
        "import sys, numpy as np, ami; a = np.load(sys.argv[1]); "
        "ami.train(a['observations'], a['actions'], a['states'], sys.argv[2], preset='tiny')"
    )
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-c", script, data, fresh], check=True)
    assert _run_files(fresh) == files
    for f in files:
        assert (fresh / f).read_bytes() == (cli / f).read_bytes(), f
    # This process (which has trained before).
    arrays = np.load(data)
    again = ami.train(arrays["observations"], arrays["actions"], arrays["states"], tmp_path / "again", preset="tiny")
    for f in files:
        if f.suffix != ".bpk":
            assert (again.path / f).read_bytes() == (cli / f).read_bytes(), f
    assert np.array_equal(ami.load_run(cli).encode(arrays["observations"][0]), again.encode(arrays["observations"][0]))
