"""PyTorch eager peer for `ami bench`. Prints one JSON object on stdout."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(os.cpu_count())
torch.manual_seed(C.SEED)


def mlp(params):
    layers = []
    for k, (w, b) in enumerate(params):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(params) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def vicreg_var(x):
    std = torch.sqrt(x.var(dim=0) + C.VAR_EPS)  # unbiased (N-1)
    return torch.relu(1.0 - std).mean()


def vicreg_cov(x):
    n, d = x.shape
    xc = x - x.mean(dim=0)
    cov = (xc.T @ xc) / (n - 1)
    return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / d


def vicreg_loss(pred, target, a, b):
    """SIM_W * mse(pred, target) + VAR_W * mean variance hinge of a, b + COV_W * their covariances."""
    mse = torch.nn.functional.mse_loss(pred, target)
    var = (vicreg_var(a) + vicreg_var(b)) / 2
    cov = vicreg_cov(a) + vicreg_cov(b)
    return C.SIM_W * mse + C.VAR_W * var + C.COV_W * cov


def adamw_step(opt, loss):
    """One optimiser step on `loss`; returns it."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def bench_train(p, r):
    enc, pred = mlp(p["enc"]), mlp(p["pred"])
    o_t, a_t, o_t1 = (torch.from_numpy(p[k]) for k in ("o_t", "a_t", "o_t1"))
    opt = torch.optim.AdamW(list(enc.parameters()) + list(pred.parameters()),
                            lr=C.LR_TRAIN, betas=C.BETAS, eps=C.ADAM_EPS,
                            weight_decay=C.WEIGHT_DECAY)

    def step():
        z, z1 = enc(o_t), enc(o_t1)
        zp = pred(torch.cat([z, a_t], dim=1))
        return adamw_step(opt, vicreg_loss(zp, z1, z, z1))

    return C.train_rate(step, r)


def conv_encoder(p):
    """Conv2d(2->16) -> ReLU -> Conv2d(16->32) -> ReLU -> flatten -> Linear -> ReLU -> Linear."""
    layers = []
    for w, b in p["conv"]:
        conv = torch.nn.Conv2d(w.shape[1], w.shape[0], 3, stride=2, padding=1)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
        layers += [conv, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Flatten(1), mlp(p["head"]))


def bench_conv_train(p, r):
    enc = conv_encoder(p)
    x, y = torch.from_numpy(p["x"]), torch.from_numpy(p["y"])
    opt = torch.optim.AdamW(enc.parameters(), lr=C.LR_TRAIN, betas=C.BETAS, eps=C.ADAM_EPS,
                            weight_decay=C.WEIGHT_DECAY)

    def step():
        zx, zy = enc(x), enc(y)
        return adamw_step(opt, vicreg_loss(zx, zy, zx, zy))

    return C.train_rate(step, r)


def rollout(pred, s0, actions):
    """actions [N, H, A]; returns cost [N] = sum_t ||s_t - g||^2 (s_1..s_H)."""
    n, h, _ = actions.shape
    s = s0.expand(n, -1)
    cost = 0.0
    for t in range(h):
        s = pred(torch.cat([s, actions[:, t]], dim=1))
        cost = cost + (s - GOAL).pow(2).sum(dim=1)
    return cost


def bench_cem(p, r):
    pred = mlp(p["pred"]).requires_grad_(False)
    s0 = torch.from_numpy(p["s0"])
    gen = torch.Generator().manual_seed(C.SEED)

    def plan():
        with torch.no_grad():
            mean = torch.zeros(C.CEM_H, C.ACT)
            std = torch.ones(C.CEM_H, C.ACT)
            for _ in range(C.CEM_ITERS):
                eps = torch.randn(C.CEM_N, C.CEM_H, C.ACT, generator=gen)
                acts = mean + std * eps
                cost = rollout(pred, s0, acts)
                elite = acts[torch.topk(cost, C.CEM_ELITES, largest=False).indices]
                mean, std = elite.mean(dim=0), elite.std(dim=0, unbiased=False)
            return mean

    return 1e3 * C.median_time(plan, r["pw"], r["pn"])


def bench_grad_plan(p, r):
    pred = mlp(p["pred"]).requires_grad_(False)
    s0 = torch.from_numpy(p["s0"])
    init = torch.from_numpy(p["gp_init"])

    def plan():
        acts = init.clone().requires_grad_(True)
        opt = torch.optim.Adam([acts], lr=C.GP_LR, betas=C.BETAS, eps=C.ADAM_EPS)
        for _ in range(C.GP_STEPS):
            loss = rollout(pred, s0, acts).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return acts.detach()

    return 1e3 * C.median_time(plan, r["pw"], r["pn"])


def bench_gemm(r):
    out = {}
    g = torch.Generator().manual_seed(C.SEED)
    for name, (m, k, n) in C.GEMM_SHAPES.items():
        a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
        t = C.median_time(lambda: torch.mm(a, b), r["gw"], r["gn"])
        out[name] = 2 * m * n * k / t / 1e9
    return out


def main():
    args = C.parse_args(__doc__)
    r = C.reps(args.quick)
    p = C.make_problem()
    pe = C.make_conv_problem()
    global GOAL
    GOAL = torch.from_numpy(p["goal"])
    C.run_workloads(args.workload, "pytorch-eager", torch.__version__, torch.get_num_threads(), {
        "A": lambda: bench_train(p, r), "B": lambda: bench_cem(p, r),
        "C": lambda: bench_grad_plan(p, r), "E": lambda: bench_conv_train(pe, r),
        "gemm": lambda: bench_gemm(r)})


if __name__ == "__main__":
    main()
