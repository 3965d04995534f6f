"""ami: objective-driven AI — JEPA world models learned from reward-free data, and agents that
plan with them. Python bindings of the Rust library (the native module ``ami._ami``).

>>> import ami
>>> obs, actions, states = ami.generate_data(preset="tiny")
>>> run = ami.train(obs, actions, states, "runs/py", preset="tiny")
>>> run = ami.load_run("runs/py")
>>> z = run.encode(obs[0])                      # [L+1, D] representations
>>> plan = run.plan(obs[0, 0], obs[0, -1])      # [H, A] actions; the agent executes plan[0]

Arrays: float32 C-contiguous arrays are read in place (no copy); other real-valued arrays
(float64, integers) are converted once. Results are float32 arrays that own the library's
buffer (no copy). Long calls release the GIL.

Errors: bad shapes, dtypes and configuration values raise ``ValueError`` naming the argument
or key and what was expected; missing or unreadable files and run directories raise
``OSError`` (``FileNotFoundError`` for a missing run directory); anything else (a run locked
by another process, divergence, an internal error) raises ``RuntimeError``. Messages are the
library's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _ami

__all__ = [
    "Config",
    "Dataset",
    "Plan",
    "Run",
    "build_config",
    "generate_data",
    "load_run",
    "train",
]

__version__: str = _ami.__version__

#: A run configuration: ``None`` (the preset alone), TOML text, a path to a TOML file, or a
#: dict with the same sections and keys (``{"train": {"steps": 100}}``). Every section is
#: optional; what is given overrides the preset.
Config = Union[None, str, "os.PathLike[str]", Mapping[str, Any]]

#: Anything numpy turns into a real-valued array.
ArrayLike = npt.ArrayLike
#: The float32 arrays the bindings return.
Array = npt.NDArray[np.float32]


def _f32(name: str, x: ArrayLike) -> Array:
    """``x`` as a C-contiguous float32 array: the same object when it already is one."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected a real-valued (float32) array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _config_args(config: Config) -> Tuple[Optional[str], bool]:
    """The native form of ``config``: (text, text is JSON)."""
    if config is None:
        return None, False
    if isinstance(config, Mapping):
        return json.dumps(config), True
    if isinstance(config, os.PathLike):
        return Path(config).read_text(), False
    if isinstance(config, str):
        return config, False
    raise TypeError(f"config: expected None, TOML text, a path or a dict, got {type(config).__name__}")


def _sets(sets: Sequence[str], **keys: Optional[object]) -> List[str]:
    """``sets`` plus ``section.key=value`` for each keyword that is not None."""
    if isinstance(sets, str):
        raise TypeError("sets: expected a sequence of 'section.key=value' strings, got one str")
    out = list(sets)
    for key, value in keys.items():
        if value is not None:
            out.append(f"{key.replace('__', '.')}={value}")
    return out


def build_config(config: Config = None, *, preset: str = "default", sets: Sequence[str] = ()) -> str:
    """The validated run configuration as TOML text, built as ``ami`` builds it: the preset
    (``tiny``, ``check``, ``default``, ``full``, ``pldm``), then ``config``, then the
    ``section.key=value`` overrides ``sets`` (as ``--set``)."""
    text, is_json = _config_args(config)
    return _ami.build_config(preset, text, is_json, list(sets))


class Dataset(NamedTuple):
    """Reward-free trajectories, as ``ami data`` writes them."""

    observations: Array
    """``[T, L+1, *obs_shape]``: observation before each action and after the last."""
    actions: Array
    """``[T, L, A]``."""
    states: Array
    """``[T, L+1, S]``: true states (for the state probe and evaluation only)."""


def generate_data(
    config: Config = None,
    *,
    preset: str = "default",
    sets: Sequence[str] = (),
    seed: Optional[int] = None,
    trajectories: Optional[int] = None,
) -> Dataset:
    """Generates the reward-free dataset of the configuration's ``[env]`` and ``[data]``
    (``seed`` sets ``data.seed``, ``trajectories`` sets ``data.trajectories``) with the
    environment's behaviour policy — the data ``ami data`` writes for the same settings."""
    text, is_json = _config_args(config)
    extra = _sets(sets, data__seed=seed, data__trajectories=trajectories)
    obs, act, states = _ami.generate_data(preset, text, is_json, extra)
    return Dataset(obs, act, states)


def train(
    observations: ArrayLike,
    actions: ArrayLike,
    states: ArrayLike,
    out: Union[str, "os.PathLike[str]"],
    config: Config = None,
    *,
    preset: str = "default",
    sets: Sequence[str] = (),
    seed: Optional[int] = None,
) -> "Run":
    """Trains a JEPA world model on trajectories into the run directory ``out`` and returns
    the run, loaded.

    ``observations [T, L+1, *obs_shape]``, ``actions [T, L, A]`` and ``states [T, L+1, S]``
    must have the shapes of the configuration's environment (``states`` are the true states,
    used to fit the run's state probe). The configuration is built as in
    :func:`build_config`; ``seed`` sets ``train.seed``. The run is the one
    ``ami train --data D --out OUT`` writes for a dataset file ``D`` with the same arrays and
    configuration: byte for byte for the first training of the process (as ``ami train`` is
    one); later trainings in the same process write the same weights, probe and metrics, but
    burn's parameter ids in the ``.bpk`` records count the process's initialisations
    (crates/jepa/src/param_ids.rs). ``out`` is created; a run already there is overwritten,
    and the directory is locked while training.
    """
    text, is_json = _config_args(config)
    native = _ami.train(
        _f32("observations", observations),
        _f32("actions", actions),
        _f32("states", states),
        os.fspath(out),
        preset,
        text,
        is_json,
        _sets(sets, train__seed=seed),
    )
    return Run(native)


def load_run(path: Union[str, "os.PathLike[str]"]) -> "Run":
    """Loads the trained run in the directory ``path`` (written by ``ami train``,
    ``ami demo`` or :func:`train`): its configuration, world model and actor."""
    return Run(_ami.load_run(os.fspath(path)))


@dataclass(frozen=True)
class Plan:
    """One planning call: the optimised action sequence and what the world model predicts."""

    actions: Array
    """``[H, A]``; the agent executes the first row (see :meth:`Run.plan`)."""
    predicted_states: Array
    """``[H, D]``: predicted representation after each action (empty for the amortised
    policy acting alone)."""
    cost: float
    """Total cost of the plan (NaN when nothing was imagined)."""
    cost_breakdown: List[Tuple[str, float]]
    """Weighted contribution of each cost term."""
    iterations: int
    """Optimisation iterations run."""
    safe: bool
    """False when no candidate satisfied the guardrails: ``actions`` are then the stop plan."""


class Run:
    """A trained run: its configuration, encoder, world model and actor."""

    def __init__(self, native: "_ami.Run") -> None:
        self._run = native

    def __repr__(self) -> str:
        return (
            f"ami.Run({str(self.path)!r}, obs_shape={self.obs_shape}, "
            f"action_dim={self.action_dim}, repr_dim={self.repr_dim})"
        )

    @property
    def path(self) -> Path:
        """The run directory."""
        return Path(self._run.root)

    @property
    def config(self) -> Dict[str, Any]:
        """The run's configuration (``config.toml``) as a dict of sections."""
        config: Dict[str, Any] = json.loads(self._run.config_json)
        return config

    @property
    def config_toml(self) -> str:
        """The run's configuration as TOML text."""
        return self._run.config_toml

    @property
    def obs_shape(self) -> Tuple[int, ...]:
        """Shape of one observation (e.g. ``(2, 16, 16)`` for two-rooms pixels)."""
        return tuple(self._run.obs_shape)

    @property
    def action_dim(self) -> int:
        """Length A of one action."""
        return self._run.action_dim

    @property
    def repr_dim(self) -> int:
        """Dimension D of the representation."""
        return self._run.repr_dim

    @property
    def horizon(self) -> int:
        """Planned actions per planning call, H (``agent.horizon``)."""
        return self._run.horizon

    @property
    def max_action_norm(self) -> float:
        """Bound on the Euclidean norm of one action (the environment's action space)."""
        return self._run.max_action_norm

    def encode(self, obs: ArrayLike) -> Array:
        """Encodes observations: ``[N, *obs_shape]`` → ``[N, D]``, or one observation
        ``[*obs_shape]`` → ``[D]``. Deterministic."""
        return self._run.encode(_f32("obs", obs))

    def rollout(self, start: ArrayLike, actions: ArrayLike, from_repr: Optional[bool] = None) -> Array:
        """Imagines the future: open-loop rollouts of the trained predictor from ``start``
        with ``actions [N, H, A]`` → ``[N, H+1, D]``; row 0 is the start's representation
        (``encode(start)``), row ``t+1`` the prediction after action ``t`` (each action held
        for ``agent.action_repeat`` predictor steps, as when planning). Unbatched,
        ``start`` and ``actions [H, A]`` give ``[H+1, D]``.

        ``start`` is observations (``[N, *obs_shape]``) or representations (``[N, D]``);
        ``from_repr`` says which, and ``None`` infers it from the shape (an error when both
        fit)."""
        s = _f32("start", start)
        if from_repr is None:
            obs_shape, d = self.obs_shape, self.repr_dim
            k = len(obs_shape)
            is_obs = s.ndim in (k, k + 1) and tuple(s.shape[s.ndim - k :]) == obs_shape
            is_repr = s.ndim in (1, 2) and s.shape[-1] == d
            if is_obs and is_repr:
                raise ValueError(
                    f"start: shape {s.shape} fits both observations {obs_shape} and "
                    f"representations ({d},); pass from_repr=True or False"
                )
            from_repr = is_repr
        return self._run.rollout(s, _f32("actions", actions), bool(from_repr))

    def plan_details(self, obs: ArrayLike, goal: ArrayLike, seed: Optional[int] = None) -> Plan:
        """:meth:`plan`, with the predicted states, the cost and its breakdown."""
        raw = self._run.plan(_f32("obs", obs), _f32("goal", goal), seed)
        return Plan(
            actions=raw["actions"],
            predicted_states=raw["predicted_states"],
            cost=float(raw["cost"]),
            cost_breakdown=[(str(n), float(c)) for n, c in raw["cost_breakdown"]],
            iterations=int(raw["iterations"]),
            safe=bool(raw["safe"]),
        )

    def plan(self, obs: ArrayLike, goal: ArrayLike, seed: Optional[int] = None) -> Array:
        """The actor's action sequence ``[H, A]`` from the observation ``obs`` to the goal
        observation ``goal`` (both ``[*obs_shape]``).

        This is one planning call of the run's actor — ``[agent] actor`` (the configured
        ``[planner]``, e.g. MPPI, or the amortised policy), flat or hierarchical — with the
        cost of the ``reach`` task: the run's ``[cost]`` terms, measured against
        ``encode(goal)``, plus its intrinsic and guardrail terms. The planner starts fresh
        (no warm start) from its seed plus ``seed`` (``None``: ``train.seed``, as
        ``ami eval`` does), so the result is deterministic and equals the first planning call
        of an ``ami eval`` episode from that observation to that goal. The agent executes
        the first row (for ``agent.replan_every`` environment steps, each planned action
        held for ``agent.action_repeat`` steps), then plans again from the new observation.
        Every row has norm at most :attr:`max_action_norm`.
        """
        return self.plan_details(obs, goal, seed).actions
