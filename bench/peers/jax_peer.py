"""JAX (jax.jit) peer for `ami bench`. Prints one JSON object on stdout."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_platforms", "cpu")


def mlp(params, x):
    for k, (w, b) in enumerate(params):
        x = x @ w + b
        if k < len(params) - 1:
            x = jax.nn.relu(x)
    return x


def vicreg_var(x):
    std = jnp.sqrt(jnp.var(x, axis=0, ddof=1) + C.VAR_EPS)
    return jnp.mean(jax.nn.relu(1.0 - std))


def vicreg_cov(x):
    n, d = x.shape
    xc = x - x.mean(axis=0)
    cov = (xc.T @ xc) / (n - 1)
    return (jnp.sum(cov ** 2) - jnp.sum(jnp.diagonal(cov) ** 2)) / d


def adam_update(p, g, m, v, t, lr, wd):
    """PyTorch Adam/AdamW semantics (decoupled weight decay p *= 1 - lr*wd); t is the 1-based step."""
    b1, b2 = C.BETAS
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    p = p * (1 - lr * wd) - lr * mhat / (jnp.sqrt(vhat) + C.ADAM_EPS)
    return p, m, v


def to_jax(params):
    return [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]


def bench_train(p, r):
    params = {"enc": to_jax(p["enc"]), "pred": to_jax(p["pred"])}
    o_t, a_t, o_t1 = (jnp.asarray(p[k]) for k in ("o_t", "a_t", "o_t1"))

    def loss_fn(prm):
        z, z1 = mlp(prm["enc"], o_t), mlp(prm["enc"], o_t1)
        zp = mlp(prm["pred"], jnp.concatenate([z, a_t], axis=1))
        mse = jnp.mean((zp - z1) ** 2)
        var = (vicreg_var(z) + vicreg_var(z1)) / 2
        cov = vicreg_cov(z) + vicreg_cov(z1)
        return C.SIM_W * mse + C.VAR_W * var + C.COV_W * cov

    return _adamw_rate(loss_fn, params, r)


def conv_encoder(prm, x):
    """NCHW images -> conv 3x3 stride 2 pad 1 (+ReLU) twice -> channel-major flatten -> MLP."""
    for w, b in prm["conv"]:
        x = lax.conv_general_dilated(x, w, window_strides=(2, 2), padding=((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        x = jax.nn.relu(x + b[None, :, None, None])
    return mlp(prm["head"], x.reshape(x.shape[0], -1))


def bench_conv_train(p, r):
    params = {"conv": to_jax(p["conv"]), "head": to_jax(p["head"])}
    x, y = jnp.asarray(p["x"]), jnp.asarray(p["y"])

    def loss_fn(prm):
        zx, zy = conv_encoder(prm, x), conv_encoder(prm, y)
        inv = jnp.mean((zx - zy) ** 2)
        var = (vicreg_var(zx) + vicreg_var(zy)) / 2
        cov = vicreg_cov(zx) + vicreg_cov(zy)
        return C.SIM_W * inv + C.VAR_W * var + C.COV_W * cov

    return _adamw_rate(loss_fn, params, r)


def _adamw_rate(loss_fn, params, r):
    """steps/s of one jitted AdamW step (PyTorch semantics) on loss_fn(params)."""
    @jax.jit
    def step(prm, m, v, t):
        loss, g = jax.value_and_grad(loss_fn)(prm)
        t = t + 1.0
        upd = jax.tree.map(lambda a, b, c, d: adam_update(a, b, c, d, t, C.LR_TRAIN, C.WEIGHT_DECAY),
                           prm, g, m, v)
        is_tuple = lambda x: isinstance(x, tuple) and len(x) == 3 and not isinstance(x[0], tuple)
        prm = jax.tree.map(lambda u: u[0], upd, is_leaf=is_tuple)
        m = jax.tree.map(lambda u: u[1], upd, is_leaf=is_tuple)
        v = jax.tree.map(lambda u: u[2], upd, is_leaf=is_tuple)
        return prm, m, v, t, loss

    state = [params, jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params),
             jnp.float32(0.0)]

    def run():
        *s, loss = step(*state)
        loss.block_until_ready()
        state[:] = s

    return C.train_rate(run, r)


def rollout_cost(pred, s0, goal, actions):
    """actions [N, H, A] -> cost [N] = sum_t ||s_t - g||^2 over s_1..s_H (lax.scan over H)."""
    n = actions.shape[0]

    def f(s, a):
        s = mlp(pred, jnp.concatenate([s, a], axis=1))
        return s, jnp.sum((s - goal) ** 2, axis=1)

    _, costs = lax.scan(f, jnp.broadcast_to(s0, (n, s0.shape[0])), jnp.swapaxes(actions, 0, 1))
    return costs.sum(axis=0)


def bench_cem(p, r):
    pred, s0, goal = to_jax(p["pred"]), jnp.asarray(p["s0"]), jnp.asarray(p["goal"])

    @jax.jit
    def plan(key):
        def it(carry, k):
            mean, std = carry
            acts = mean + std * jax.random.normal(k, (C.CEM_N, C.CEM_H, C.ACT), jnp.float32)
            cost = rollout_cost(pred, s0, goal, acts)
            _, idx = lax.top_k(-cost, C.CEM_ELITES)
            elite = acts[idx]
            return (elite.mean(axis=0), elite.std(axis=0)), None

        init = (jnp.zeros((C.CEM_H, C.ACT)), jnp.ones((C.CEM_H, C.ACT)))
        (mean, _), _ = lax.scan(it, init, jax.random.split(key, C.CEM_ITERS))
        return mean

    keys = iter(jax.random.split(jax.random.PRNGKey(C.SEED), r["pw"] + r["pn"]))
    return 1e3 * C.median_time(lambda: plan(next(keys)).block_until_ready(), r["pw"], r["pn"])


def bench_grad_plan(p, r):
    pred, s0, goal = to_jax(p["pred"]), jnp.asarray(p["s0"]), jnp.asarray(p["goal"])
    init = jnp.asarray(p["gp_init"])
    grad_fn = jax.grad(lambda a: rollout_cost(pred, s0, goal, a).sum())

    @jax.jit
    def plan(acts):
        def body(i, st):
            a, m, v = st
            return adam_update(a, grad_fn(a), m, v, (i + 1).astype(jnp.float32), C.GP_LR, 0.0)

        a, _, _ = lax.fori_loop(0, C.GP_STEPS, body, (acts, jnp.zeros_like(acts), jnp.zeros_like(acts)))
        return a

    return 1e3 * C.median_time(lambda: plan(init).block_until_ready(), r["pw"], r["pn"])


def bench_gemm(r):
    out = {}
    key = jax.random.PRNGKey(C.SEED)
    mm = jax.jit(jnp.matmul)
    for name, (m, k, n) in C.GEMM_SHAPES.items():
        k1, k2, key = jax.random.split(key, 3)
        a, b = jax.random.normal(k1, (m, k)), jax.random.normal(k2, (k, n))
        t = C.median_time(lambda: mm(a, b).block_until_ready(), r["gw"], r["gn"])
        out[name] = 2 * m * n * k / t / 1e9
    return out


def main():
    args = C.parse_args(__doc__)
    r = C.reps(args.quick)
    p = C.make_problem()
    pe = C.make_conv_problem()
    C.run_workloads(args.workload, "jax-jit", f"jax {jax.__version__}", C.cpu_threads(), {
        "A": lambda: bench_train(p, r), "B": lambda: bench_cem(p, r),
        "C": lambda: bench_grad_plan(p, r), "E": lambda: bench_conv_train(pe, r),
        "gemm": lambda: bench_gemm(r)})


if __name__ == "__main__":
    main()
