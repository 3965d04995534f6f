"""ami's environment server: one Gymnasium or DeepMind Control environment behind stdin/stdout.

Started by the `ami` binary (`ami_envs::bridge`), which embeds this file and writes it to its
cache directory; not meant to be run by hand. Framing, in both directions (all integers
little-endian):

    u32 header_len | header (UTF-8 JSON object) | u32 payload_len | payload

`header["arrays"]` lists the arrays packed back to back in the payload as
`[name, dtype, shape]` with dtype "f32" or "f64" (raw little-endian values, row-major).

Requests carry `op`: open, reset (seed), reset_to (array state), step (array action),
raw_step (header action, any JSON value: for tests on discrete spaces), observe_state (array
state; the current state is restored afterwards), close. Replies carry `ok`; on success the
arrays obs (f32) and state (f64) (after a reset also `goal`, the env's own goal as a state,
where it has one: PointMaze), on failure `error` (one of missing_package, unknown_env,
no_state, bad_request, python) and `message`.

What `state` is, per family:
* gym, MuJoCo envs (`unwrapped.data` and `set_state`): `qpos ++ qvel`;
* gym, classic control (`unwrapped.state`): that array (Pendulum: theta, theta_dot;
  CartPole: x, x_dot, theta, theta_dot);
* gym, PointMaze (gymnasium-robotics): the point's `qpos ++ qvel` (`point_env`);
* gym, Push-T (gym-pusht): 1 − coverage (the share of the goal zone the block does not
  cover; derived, ignored by reset_to), then agent x, y, block x, y, angle; reset_to turns the
  block before placing it and leaves both at rest (gym-pusht's own `_set_state` places before
  turning about the centre of gravity, which moves the block, then steps the physics). Its
  goal: coverage 1 — the block at the env's goal pose, the agent where it is — with
  `goal_dims` 1, so `‖e‖ ≤ 0.05` is the env's own success rule (coverage > 0.95);
* dmc: `physics.get_state()` (qpos ++ qvel ++ act); reacher: fingertip x, y, then
  `physics.get_state()`, then the target's x, y (the target is part of the model, not of the
  physics state, so a state must carry it for `reset_to` to restore the task; the fingertip
  is derived and ignored by `reset_to`). Its goal after a reset: the arm placed by inverse
  kinematics with the fingertip on the target (the free shoulder angle taken next to the
  start's), target unchanged, `goal_dims` 2, so the
  error to the goal is fingertip − target and `‖e‖ ≤ target size + finger size` (0.06 in
  reacher/easy) is the task's own reward rule;
* anything else: no state (length 0); reset_to and observe_state are errors.
"""

import json
import math
import os
import struct
import sys
import traceback

# The framed channel is the original stdout; everything any library prints (pygame's
# greeting, C-level logs) goes to stderr instead.
CHANNEL_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
sys.stdout = sys.stderr
CHANNEL_IN = os.fdopen(os.dup(0), "rb", buffering=0)

try:
    import numpy as np
except ImportError:  # reported to ami on the first request
    np = None

DTYPES = {"f32": "<f4", "f64": "<f8"}


class Failure(Exception):
    """An error reported to ami as {ok: false, error: kind, message}."""

    def __init__(self, kind, message, package=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.package = package


def read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = CHANNEL_IN.read(n - len(buf))
        if not chunk:
            return None
        buf.extend(chunk)
    return bytes(buf)


def read_message():
    raw = read_exact(4)
    if raw is None:
        return None, None
    header = json.loads(read_exact(struct.unpack("<I", raw)[0]).decode("utf-8"))
    payload = read_exact(struct.unpack("<I", read_exact(4))[0])
    arrays, offset = {}, 0
    for name, dtype, shape in header.get("arrays", []) if np is not None else []:
        count = 1
        for d in shape:
            count *= d
        width = 4 if dtype == "f32" else 8
        data = payload[offset : offset + count * width]
        arrays[name] = np.frombuffer(data, dtype=DTYPES[dtype]).reshape(shape)
        offset += count * width
    return header, arrays


def write_message(header, arrays=()):
    """Frames `header` and the arrays `(name, dtype, value)` onto the channel."""
    parts, specs = [], []
    for name, dtype, value in arrays:
        a = np.ascontiguousarray(value, dtype=DTYPES[dtype])
        specs.append([name, dtype, list(a.shape)])
        parts.append(a.tobytes())
    header = dict(header, arrays=specs)
    head = json.dumps(header).encode("utf-8")
    payload = b"".join(parts)
    CHANNEL_OUT.write(struct.pack("<I", len(head)) + head + struct.pack("<I", len(payload)) + payload)


def import_or_fail(name, package):
    try:
        return __import__(name, fromlist=["_"])
    except ImportError as e:
        raise Failure("missing_package", f"cannot import {name} ({e})", package) from e


def nearest_resize(frame, size):
    """[H, W, 3] uint8 -> [3, size, size] f32 in [0, 1] by nearest-neighbour sampling."""
    h, w = frame.shape[:2]
    rows = (np.arange(size) * h // size).clip(0, h - 1)
    cols = (np.arange(size) * w // size).clip(0, w - 1)
    return frame[rows][:, cols, :3].transpose(2, 0, 1).astype(np.float32) / 255.0


# Packages that register more Gymnasium ids when imported (PointMaze, OGBench, Push-T).
PLUGINS = ["gymnasium_robotics", "ogbench", "gym_pusht"]


def make_with_plugins(gym, env_id, kwargs):
    """gymnasium.make; an unknown id is retried after importing the installed plugins."""
    lookup = (gym.error.NameNotFound, gym.error.NamespaceNotFound, gym.error.VersionNotFound)
    try:
        return gym.make(env_id, **kwargs)
    except lookup:
        pass
    for module in PLUGINS:
        try:
            gym.register_envs(__import__(module))
        except ImportError:
            pass
    try:
        return gym.make(env_id, **kwargs)
    except lookup as e:
        raise Failure("unknown_env", str(e)) from e


def state_kind(u):
    """Where an unwrapped Gymnasium env keeps its state (module docs)."""
    if hasattr(u, "point_env"):
        return "pointmaze"
    if hasattr(u, "data") and hasattr(u, "set_state"):
        return "mujoco"
    if hasattr(u, "_set_state") and hasattr(u, "agent") and hasattr(u, "block"):
        return "pusht"
    if getattr(u, "state", None) is not None:
        return "classic"
    return "none"


class GymFamily:
    """A Gymnasium env made with gymnasium.make; stepped through `unwrapped` (ami decides
    the episode's length, so TimeLimit does not apply)."""

    def __init__(self, header):
        gym = import_or_fail("gymnasium", "gymnasium")
        env_id = header["id"]
        kwargs = dict(header.get("kwargs") or {})
        self.pixels = bool(header.get("pixels"))
        self.size = int(header.get("image_size", 64))
        if self.pixels:
            kwargs.setdefault("render_mode", "rgb_array")
        try:
            self.env = make_with_plugins(gym, env_id, kwargs)
        except gym.error.DependencyNotInstalled as e:
            raise Failure("missing_package", str(e), "gymnasium[classic-control,mujoco]") from e
        self.u = self.env.unwrapped
        self.first_raw, _ = self.env.reset(seed=0)
        self.state_kind = state_kind(self.u)

    def info(self):
        space = self.env.action_space
        name = type(space).__name__
        if name == "Box":
            action = {"kind": "box", "low": bounds(space.low, space.shape),
                      "high": bounds(space.high, space.shape)}
        elif name == "Discrete":
            action = {"kind": "discrete", "n": int(space.n)}
        else:
            action = {"kind": "other", "repr": repr(space)}
        return {"action": action, "state_kind": self.state_kind}

    def obs(self, raw=None):
        if self.pixels:
            return nearest_resize(np.asarray(self.env.render()), self.size)
        if raw is None:
            raw = self._obs_from_state()
        if isinstance(raw, dict):
            raw = raw["observation"] if "observation" in raw else np.concatenate(
                [np.ravel(v) for v in raw.values()])
        return np.ravel(np.asarray(raw, dtype=np.float64))

    def _obs_from_state(self):
        u = self.u
        if self.state_kind == "pointmaze":
            return u._get_obs(u.point_env._get_obs()[0])
        for name in ("_get_obs", "_get_ob", "get_obs", "compute_observation"):
            if hasattr(u, name):
                try:
                    return getattr(u, name)()
                except TypeError as e:
                    raise Failure("no_state", f"cannot observe a set state ({name}: {e})") from e
        if self.state_kind == "classic":
            return np.array(u.state)
        raise Failure("no_state", "this env has no observation function of its state")

    def state(self):
        u = self.u
        if self.state_kind == "mujoco":
            return np.concatenate([u.data.qpos.ravel(), u.data.qvel.ravel()])
        if self.state_kind == "pointmaze":
            return np.concatenate([u.point_env.data.qpos.ravel(), u.point_env.data.qvel.ravel()])
        if self.state_kind == "pusht":
            return np.array([1.0 - u._get_coverage(), *u.agent.position, *u.block.position,
                             u.block.angle], dtype=float)
        if self.state_kind == "classic":
            return np.ravel(np.asarray(u.state, dtype=np.float64))
        return np.zeros(0)

    def set_state(self, s):
        u = self.u
        want = self.state().size
        if self.state_kind != "none" and s.size != want:
            raise Failure("bad_request", f"state has {s.size} values, expected {want}")
        if self.state_kind in ("mujoco", "pointmaze"):
            target = u if self.state_kind == "mujoco" else u.point_env
            nq = target.data.qpos.size
            target.set_state(s[:nq].copy(), s[nq:].copy())
        elif self.state_kind == "pusht":
            # Not gym-pusht's `_set_state`, which places the block before turning it about its
            # centre of gravity (so the block ends up elsewhere than the state says) and steps
            # the physics: turned first, then placed, at rest, so that the state read back
            # is the state set.
            u.agent.position = s[1:3].tolist()
            u.agent.velocity = (0.0, 0.0)
            u.block.angle = float(s[5])
            u.block.position = s[3:5].tolist()
            u.block.velocity = (0.0, 0.0)
            u.block.angular_velocity = 0.0
            u.space.reindex_shapes_for_body(u.agent)
            u.space.reindex_shapes_for_body(u.block)
        elif self.state_kind == "classic":
            old = np.asarray(u.state)
            u.state = np.array(s, dtype=old.dtype).reshape(old.shape)
        else:
            raise Failure("no_state", "this env exposes no state (MuJoCo qpos/qvel, "
                          "unwrapped.state), so it cannot be reset to a state")

    def reset(self, seed):
        raw, _ = self.env.reset(seed=seed)
        return raw

    def goal_state(self):
        """The env's own goal after a reset, as a state (PointMaze: the goal position at
        rest), or None."""
        if self.state_kind == "pointmaze":
            return np.concatenate([self.u.goal, np.zeros(self.u.point_env.data.qvel.size)])
        if self.state_kind == "pusht":
            return np.array([0.0, *self.u.agent.position, *self.u.goal_pose], dtype=float)
        return None

    def goal_dims(self):
        """How many leading state values the env's goal constrains (PointMaze: x, y;
        Push-T: 1 − coverage)."""
        return {"pointmaze": 2, "pusht": 1}.get(self.state_kind)

    def step(self, action):
        raw, reward, terminated, truncated, _ = self.u.step(action)
        return raw, float(reward), bool(terminated)


class DmcFamily:
    """A DeepMind Control Suite task without a time limit (ami decides the episode's length)."""

    def __init__(self, header):
        import_or_fail("mujoco", "mujoco")
        suite = import_or_fail("dm_control.suite", "dm-control")
        domain, task = header["domain"], header["task"]
        if (domain, task) not in suite.ALL_TASKS:
            raise Failure("unknown_env", f"no DeepMind Control task {domain}/{task}")
        self.env = suite.load(domain, task, task_kwargs={"random": 0})
        self.env._step_limit = float("inf")
        self.physics = self.env.physics
        self.pixels = bool(header.get("pixels"))
        self.size = int(header.get("image_size", 64))
        self.camera = int(header.get("camera", 0))
        self.state_kind = "reacher" if domain == "reacher" else "physics"
        self.first_raw = self.env.reset().observation

    def info(self):
        spec = self.env.action_spec()
        return {"action": {"kind": "box", "low": bounds(spec.minimum, spec.shape),
                           "high": bounds(spec.maximum, spec.shape)},
                "state_kind": self.state_kind}

    def obs(self, raw=None):
        if self.pixels:
            frame = self.physics.render(height=self.size, width=self.size, camera_id=self.camera)
            return nearest_resize(frame, self.size)
        if raw is None:
            raw = self.env.task.get_observation(self.physics)
        return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in raw.values()])

    def _target(self):
        return np.array(self.physics.named.model.geom_pos["target", ["x", "y"]], dtype=np.float64)

    def state(self):
        s = np.asarray(self.physics.get_state(), dtype=np.float64)
        if self.state_kind == "reacher":
            finger = np.array(self.physics.named.data.geom_xpos["finger", :2], dtype=np.float64)
            return np.concatenate([finger, s, self._target()])
        return s

    def set_state(self, s):
        want = self.state().size
        if s.size != want:
            raise Failure("bad_request", f"state has {s.size} values, expected {want}")
        with self.physics.reset_context():
            if self.state_kind == "reacher":
                self.physics.named.model.geom_pos["target", "x"] = s[-2]
                self.physics.named.model.geom_pos["target", "y"] = s[-1]
                self.physics.set_state(s[2:-2])
            else:
                self.physics.set_state(s)

    def goal_state(self):
        """Reacher: the arm with its fingertip on the target (module docs); else None."""
        if self.state_kind != "reacher":
            return None
        saved = self.state()
        target = self._target()
        goal = self._reach(target, saved)
        self.set_state(saved)
        return goal

    def _reach(self, target, saved):
        """Inverse kinematics of the two-link arm: joint angles that put the fingertip on
        `target`, solved in closed form on link lengths and the shoulder's offset measured from
        the model, then checked by forward kinematics; of the two elbow solutions, the one
        nearer the current joint angles that respects the wrist's range."""
        p = self.physics
        with p.reset_context():
            p.named.data.qpos["shoulder"] = 0.0
            p.named.data.qpos["wrist"] = 0.0
        base = np.array(p.named.data.xpos["arm", :2])
        hand = np.array(p.named.data.xpos["hand", :2])
        finger = np.array(p.named.data.geom_xpos["finger", :2])
        l1 = np.linalg.norm(hand - base)
        l2 = np.linalg.norm(finger - hand)
        phi0 = math.atan2(*(finger - base)[::-1])
        d = target - base
        r = float(np.clip(np.linalg.norm(d), abs(l1 - l2) + 1e-9, l1 + l2 - 1e-9))
        c2 = (r * r - l1 * l1 - l2 * l2) / (2 * l1 * l2)
        lo, hi = p.named.model.jnt_range["wrist"]
        cur = saved[2:4]
        best = None
        for q2 in (math.acos(np.clip(c2, -1, 1)), -math.acos(np.clip(c2, -1, 1))):
            if not lo <= q2 <= hi:
                continue
            q1 = math.atan2(d[1], d[0]) - math.atan2(l2 * math.sin(q2), l1 + l2 * math.cos(q2))
            # The shoulder turns freely: the goal angle nearest the current one, unwrapped.
            q1 = cur[0] + math.remainder(q1 - phi0 - cur[0], 2 * math.pi)
            gap = abs(q1 - cur[0]) + abs(q2 - cur[1])
            if best is None or gap < best[0]:
                best = (gap, q1, q2)
        if best is None:
            raise Failure("python", f"no arm pose reaches the target {target.tolist()}")
        goal = saved.copy()
        goal[2:4] = best[1:]
        goal[4:-2] = 0.0
        self.set_state(goal)
        goal = self.state()
        miss = float(np.linalg.norm(goal[:2] - target))
        if miss > 1e-6:
            raise Failure("python", f"the arm pose misses the target {target.tolist()} by {miss}")
        return goal

    def goal_dims(self):
        return 2 if self.state_kind == "reacher" else None

    def reset(self, seed):
        self.env.task._random = np.random.RandomState(seed)
        return self.env.reset().observation

    def step(self, action):
        ts = self.env.step(action)
        return ts.observation, float(ts.reward or 0.0), False


def bounds(value, shape):
    """A Box bound as a flat list, infinite values as None (JSON has no infinity)."""
    flat = np.broadcast_to(np.asarray(value, dtype=float), shape).ravel().tolist()
    return [v if math.isfinite(v) else None for v in flat]


def serve():
    env = None
    while True:
        header, arrays = read_message()
        if header is None:
            return
        op = header.get("op")
        try:
            if op == "close":
                write_message({"ok": True})
                return
            if np is None:
                raise Failure("missing_package", "cannot import numpy", "numpy")
            if op == "open":
                family = {"gym": GymFamily, "dmc": DmcFamily}.get(header.get("family"))
                if family is None:
                    raise Failure("bad_request", f"unknown family {header.get('family')!r}")
                env = family(header)
                obs = env.obs(env.first_raw)
                state = env.state()
                info = env.info()
                info.update(obs_shape=list(obs.shape), state_dim=int(state.size),
                            goal_dims=env.goal_dims(),
                            python=sys.version.split()[0])
                write_message({"ok": True, "info": info})
                continue
            if env is None:
                raise Failure("bad_request", f"`{op}` before `open`")
            extra = {}
            if op == "reset":
                raw = env.reset(int(header["seed"]))
                goal = env.goal_state()
                if goal is not None:
                    extra = {"goal": [float(v) for v in goal]}
            elif op == "reset_to":
                env.set_state(np.asarray(arrays["state"], dtype=np.float64))
                raw = None
            elif op in ("step", "raw_step"):
                action = np.array(arrays["action"]) if op == "step" else header["action"]
                raw, reward, terminated = env.step(action)
                extra = {"reward": reward, "terminated": terminated}
            elif op == "observe_state":
                saved = env.state()
                env.set_state(np.asarray(arrays["state"], dtype=np.float64))
                obs = env.obs(None)
                env.set_state(saved)
                write_message({"ok": True}, [("obs", "f32", obs)])
                continue
            else:
                raise Failure("bad_request", f"unknown op {op!r}")
            write_message(dict({"ok": True}, **extra),
                          [("obs", "f32", env.obs(raw)), ("state", "f64", env.state())])
        except Failure as f:
            write_message({"ok": False, "error": f.kind, "message": f.message,
                           "package": f.package})
        except Exception as e:  # noqa: BLE001 - every failure goes back to ami as text
            traceback.print_exc(file=sys.stderr)
            write_message({"ok": False, "error": "python",
                           "message": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    serve()
