"""Benchmark: sampled policy-gradient estimators against their exact moments.

Run ``python bench/estimators.py [--quick] [--figures DIR]``.  Prints

1. rollout throughput (steps/s) of :func:`tabular_pg.sampled.rollout.rollout` beside a plain
   Python step loop over the same MDP and beside numpy's raw ``rng.random`` throughput;
2. per estimator, on the chain of "Policy Gradient (continued)" and on a garnet: exact bias and variance,
   Monte Carlo error vs n (mean squared error, cosine and sign agreement with the exact
   gradient), and the number of trajectories needed for cosine 0.9;
3. the growth of E||g - grad J||^2 with the horizon H (log-log slope; "Policy Gradient (continued)" says it
   can be as large as H^3);
4. exact tr Cov (block and dense paths of ``linear_moments``) beside the Monte Carlo run that
   estimates tr Cov to 1 % (relative standard error), side by side on a garnet S=20, H=10, and
   the block path's time and peak memory at S=200, H=50;
5. off-policy REINFORCE from a uniform behaviour policy: the exact variance of per-decision,
   whole-trajectory and truncated importance weights as H grows (and the exact bias of truncation).

``--only exact,offpolicy`` runs only sections 4 and 5.

Seeds and library versions are printed first.  Figures are written with matplotlib when it
is installed and ``--figures`` is given.
"""
from __future__ import annotations

import argparse
import bisect
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tabular_pg as tpg
from mdps import chain, garnet
from tabular_pg.sampled import estimators as E
from tabular_pg.sampled.moments import fitted_baseline_mean
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import rollout

SEED = 20261122
ESTIMATORS = [
    ("REINFORCE total", "reinforce", {}),
    ("REINFORCE rtg", "reinforce", {"reward_to_go": True}),
    ("rtg + V baseline", "reinforce", {"reward_to_go": True, "baseline": "value"}),
    ("rtg + b* baseline", "reinforce", {"reward_to_go": True, "baseline": "optimal"}),
    ("Q exact critic", "qvalue", {}),
    ("A exact critic", "qvalue", {"advantage": True}),
    ("GAE(0.9) exact V", "gae", {"lam": 0.9}),
    ("GAE(0.9) V = 0", "gae", {"lam": 0.9, "values": 0.0}),
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b)
    return np.divide(a @ b, na * nb, out=np.zeros(a.shape[0]), where=na * nb > 0)


# ------------------------------------------------------------------ throughput
def python_tables(mdp, pi):
    """Per-row successor lists and cumulative probabilities as Python lists (setup, not timed)."""
    P = sp.csr_matrix(mdp.P_sa)
    succ = [P.indices[P.indptr[k]:P.indptr[k + 1]].tolist() for k in range(P.shape[0])]
    cum = [np.cumsum(P.data[P.indptr[k]:P.indptr[k + 1]]).tolist() for k in range(P.shape[0])]
    return succ, cum, [np.cumsum(p).tolist() for p in pi], mdp.R.tolist(), np.cumsum(mdp.mu).tolist()


def python_loop_steps(tables, A: int, n: int, T: int, rng) -> int:
    """A tuned plain Python step loop: one trajectory, one step at a time, bisect on list rows."""
    succ, cum, pcum, R, mu = tables
    random = rng.random
    for _ in range(n):
        s = min(bisect.bisect_right(mu, random()), len(mu) - 1)
        ret = 0.0
        for _t in range(T):
            a = min(bisect.bisect_right(pcum[s], random()), A - 1)
            ret += R[s][a]
            k = s * A + a
            s = succ[k][min(bisect.bisect_right(cum[k], random()), len(cum[k]) - 1)]
    return n * T


def naive_loop_steps(mdp, pi, n: int, T: int, rng) -> int:
    """The loop most code writes: ``rng.choice`` with the probability row at every step."""
    P = sp.csr_matrix(mdp.P_sa)
    S, A = mdp.n_states, mdp.n_actions
    for _ in range(n):
        s = rng.choice(S, p=mdp.mu)
        for _t in range(T):
            a = rng.choice(A, p=pi[s])
            row = slice(P.indptr[s * A + a], P.indptr[s * A + a + 1])
            s = P.indices[row][rng.choice(row.stop - row.start, p=P.data[row])]
    return n * T


def _rate(f, *args) -> float:
    t0 = time.perf_counter()
    steps = f(*args)
    return steps / (time.perf_counter() - t0)


def throughput(quick: bool) -> None:
    print("\n## Rollout throughput (steps/s; a step = one (s, a, r, s') of one trajectory)\n")
    print(f"{'MDP':32s} {'vectorised':>11s} {'Python loop':>12s} {'ratio':>7s} {'naive loop':>11s} {'ratio':>7s}")
    rng = np.random.default_rng(SEED)
    n, T = (20_000, 50) if quick else (100_000, 100)
    cases = [("garnet S=100 A=4 b=5", garnet(100, 4, 5, seed=0, gamma=0.99)),
             ("garnet S=10^4 A=4 b=5 (sparse)", garnet(10_000, 4, 5, seed=1, gamma=0.99, sparse=True)),
             ("chain H=100 (sparse)", chain(100, sparse=True))]
    for name, mdp in cases:
        pi = tpg.policies.softmax(rng.normal(size=(mdp.n_states, mdp.n_actions)))
        H = mdp.horizon or T
        run = lambda mdp=mdp, pi=pi: rollout(mdp, pi, n, np.random.default_rng(SEED),  # noqa: E731
                                             horizon=None if mdp.horizon else T).mask.size
        fast = max(_rate(run) for _ in range(3))                     # best of 3 (first pays page faults)
        tables = python_tables(mdp, pi)
        slow = _rate(python_loop_steps, tables, mdp.n_actions, 300 if quick else 2000, H, np.random.default_rng(SEED))
        naive = _rate(naive_loop_steps, mdp, pi, 20 if quick else 100, H, np.random.default_rng(SEED))
        print(f"{name:32s} {fast:11.3e} {slow:12.3e} {fast / slow:6.0f}x {naive:11.3e} {fast / naive:6.0f}x")
    t0 = time.perf_counter()
    np.random.default_rng(SEED).random(10 ** 7)
    raw = 10 ** 7 / (time.perf_counter() - t0)
    print(f"numpy rng.random: {raw:.3e} numbers/s; a step draws 2 uniforms, so {raw / 2:.3e} steps/s bounds "
          f"any sampler (vectorised batch n={n}, T={T})")


# ------------------------------------------------------------------ estimators
def estimator_table(name: str, mdp, policy, theta, ns, reps: int, figures, tol: float = 1e-8) -> dict:
    """Exact bias/variance and Monte Carlo error vs n for each estimator on one MDP."""
    g = tpg.policy_gradient(mdp, policy, theta)
    pi = policy.probs(theta)
    print(f"\n## {name}: |grad J| = {np.linalg.norm(g):.3e}, d = {g.size}\n")
    print(f"{'estimator':20s} {'|bias|':>9s} {'tr Cov':>10s} {'n(cos .9)':>10s} | "
          + " | ".join(f"n={n}: MSE/exact cos  sign" for n in ns))
    big = rollout(mdp, pi, max(ns) * reps, np.random.default_rng(SEED + 1), tol=tol)
    curves = {}
    for label, est, opts in ESTIMATORS:
        mean, cov = estimator_moments(mdp, policy, theta, est, tol=tol, **opts)
        bias, tr = mean - g, np.trace(cov)
        per = estimate(big, policy, theta, est, mdp=mdp, per_trajectory=True, **opts)
        cells, curve = [], []
        for n in ns:
            batch = per[: n * reps].reshape(reps, n, -1).mean(axis=1)
            mse = np.mean(np.sum((batch - g) ** 2, axis=1))
            exact_mse = tr / n + bias @ bias
            cos = np.median(_cos(batch, g))
            nz = g != 0
            sign = np.mean(np.sign(batch[:, nz]) == np.sign(g[nz]))
            cells.append(f"{mse / exact_mse:5.2f} {cos:6.3f} {sign:5.2f}")
            curve.append(mse)
        print(f"{label:20s} {np.linalg.norm(bias):9.2e} {tr:10.3e} {_n_for_cosine(g, bias, tr):>10s} | "
              + " | ".join(cells))
        curves[label] = curve
    fitted_rows(mdp, policy, theta, g, big, reps, tol)
    _plot_mse(figures, name, ns, curves)
    return curves


def _batches(traj, n: int, reps: int):
    """``reps`` consecutive batches of ``n`` trajectories of ``traj``."""
    for i in range(reps):
        sl = slice(i * n, (i + 1) * n)
        yield E.Trajectories(traj.states[sl], traj.actions[sl], traj.rewards[sl], traj.mask[sl],
                             traj.gamma, traj.horizon)


def fitted_rows(mdp, policy, theta, g, big, reps: int, tol: float, n: int = 10) -> None:
    """Estimators that fit V or b on the batch itself: exact bias where known, Monte Carlo bias."""
    exact = fitted_baseline_mean(mdp, policy, theta, n, tol=tol) - g
    for label, f, known in [
            ("rtg + fitted b", lambda t: E.reinforce(t, policy, theta, reward_to_go=True, baseline="fitted"), exact),
            ("GAE(0.9) fitted V", lambda t: E.gae(t, policy, theta, 0.9, values="fitted"), None)]:
        est = np.array([f(t) for t in _batches(big, n, reps)]) - g
        mc, se = est.mean(axis=0), est.std(axis=0) / np.sqrt(reps)
        exact_txt = f"exact |bias| {np.linalg.norm(known):.3e}, " if known is not None else "exact bias: not derived, "
        print(f"{label + ', n=' + str(n):20s} {exact_txt}Monte Carlo |bias| {np.linalg.norm(mc):.3e} "
              f"(+- {np.linalg.norm(se):.1e}; {reps} batches; fitted on the same samples)")


def _n_for_cosine(g, bias, tr, target: float = 0.9) -> str:
    """Smallest n with (g.(g+b)) / (|g| sqrt(|g+b|^2 + tr/n)) >= target (root-mean-square cosine)."""
    m = g + bias
    c_inf = (g @ m) / (np.linalg.norm(g) * np.linalg.norm(m))
    if not c_inf > target:
        return "never"
    need = ((g @ m) / (np.linalg.norm(g) * target)) ** 2 - m @ m
    return f"{int(np.ceil(tr / need)):d}"


def cosine_check(mdp, policy, theta, budget: int = 200_000, reps: int = 100, tol: float = 1e-4) -> None:
    """Monte Carlo median cosine at the predicted n(cos .9), where n * reps fits the budget."""
    g = tpg.policy_gradient(mdp, policy, theta)
    print(f"\n{'estimator':20s} {'n(cos .9)':>10s} {'MC median cos at n':>20s}")
    for label, est, opts in ESTIMATORS:
        mean, cov = estimator_moments(mdp, policy, theta, est, tol=tol, **opts)
        n = _n_for_cosine(g, mean - g, np.trace(cov))
        if n == "never" or int(n) * reps > budget:
            print(f"{label:20s} {n:>10s} {'(over budget)':>20s}")
            continue
        traj = rollout(mdp, policy.probs(theta), int(n) * reps, np.random.default_rng(SEED + 2), tol=tol)
        batch = estimate(traj, policy, theta, est, mdp=mdp, per_trajectory=True, **opts)
        cos = np.median(_cos(batch.reshape(reps, int(n), -1).mean(axis=1), g))
        print(f"{label:20s} {n:>10s} {cos:20.3f}")


def natural_gradient_table(mdp, policy, theta, ns, reps: int) -> None:
    """Sampled NPG direction F_hat^+ g_hat from (s, a) ~ d samples vs the exact F^+ grad J."""
    w = tpg.natural_gradient(mdp, policy, theta)
    print(f"\n## Sampled natural gradient from (s,a)~d samples, advantage critic: cosine with exact F^+ grad J (|w| = "
          f"{np.linalg.norm(w):.3e})\n")
    from tabular_pg.sampled.rollout import sample_visitation
    x = sample_visitation(mdp, policy.probs(theta), max(ns) * reps, np.random.default_rng(SEED + 3))
    F_per = E.fisher(x, policy, theta, per_trajectory=True)
    g = tpg.policy_gradient(mdp, policy, theta)
    print("  (exact A with a tabular softmax: F_hat^+ g_hat is the least-squares fit of A/(1-gamma) by psi.w,\n"
          "   compatible function approximation, exact as soon as the batch has seen every (s, a))")
    for critic in ("exact", "monte_carlo"):
        g_per = E.visitation(x, policy, theta, mdp, critic=critic, advantage=True, per_trajectory=True)
        for n in ns:
            blocks = [slice(i * n, (i + 1) * n) for i in range(reps)]
            cos = [_cos(E.natural_gradient(g_per[b].mean(0), F_per[b].mean(0))[None], w)[0] for b in blocks]
            cos_g = [_cos(g_per[b].mean(0)[None], g)[0] for b in blocks]
            print(f"  critic={critic:11s} n={n:6d}  median cos(NPG_hat, NPG) = {np.median(cos):.3f}   "
                  f"median cos(g_hat, grad J) = {np.median(cos_g):.3f}")


def variance_vs_horizon(Hs, figures) -> None:
    """E||g - grad J||^2 = tr Cov as a function of H, with the log-log slope."""
    print("\n## Variance growth with the horizon (garnet S=10 A=3 b=3, gamma = 1, r ~ U[0,1], uniform policy)\n")
    base = garnet(10, 3, 3, seed=0, gamma=0.9)
    pol = tpg.TabularSoftmax(10, 3)
    th = pol.initial()
    print(f"{'estimator':20s} " + " ".join(f"H={H:<8d}" for H in Hs) + "  slope")
    rows = {}
    for label, est, opts in ESTIMATORS[:7]:
        tr = []
        for H in Hs:
            mdp = tpg.FiniteMDP(base.P, base.R, base.mu, gamma=1.0, horizon=H)
            tr.append(np.trace(estimator_moments(mdp, pol, th, est, **opts)[1]))
        slope = np.polyfit(np.log(Hs), np.log(tr), 1)[0]
        rows[label] = tr
        print(f"{label:20s} " + " ".join(f"{v:<10.3e}" for v in tr) + f"  {slope:5.2f}")
    print("\nchain (reward only at the goal): tr Cov of REINFORCE total return vs H")
    for H in Hs[:4]:
        mdp = chain(H)
        p = tpg.TabularSoftmax(H + 1, 3)
        m, C = estimator_moments(mdp, p, p.initial(), "reinforce")
        print(f"  H={H:3d}  tr Cov = {np.trace(C):.3e}   |grad J|^2 = {m @ m:.3e}   "
              f"P(zero batch gradient, n=100) = {(1 - 3.0 ** -H) ** 100:.3f}")
    _plot_growth(figures, Hs, rows)


def _plot_mse(figures, name, ns, curves) -> None:
    if figures is None:
        return
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, c in curves.items():
        ax.loglog(ns, c, marker="o", label=label)
    ax.set(xlabel="n (trajectories)", ylabel="E|g_hat - grad J|^2 (Monte Carlo)", title=name)
    ax.legend(fontsize=7)
    slug = "_".join(name.split("(")[0].split()).lower().replace("=", "")
    fig.savefig(Path(figures) / f"mse_{slug}.png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _plot_growth(figures, Hs, rows) -> None:
    if figures is None:
        return
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, tr in rows.items():
        ax.loglog(Hs, tr, marker="o", label=label)
    ax.loglog(Hs, tr[0] * (np.asarray(Hs) / Hs[0]) ** 3, "k--", label="H^3")
    ax.set(xlabel="horizon H", ylabel="exact E|g - grad J|^2", title="variance vs horizon")
    ax.legend(fontsize=7)
    fig.savefig(Path(figures) / "variance_vs_horizon.png", dpi=120, bbox_inches="tight")
    plt.close(fig)


# ------------------------------------------------------------------ exact vs Monte Carlo
def _best_time(f, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def _finite_garnet(S: int, A: int, H: int, seed: int = 0):
    g = garnet(S, A, 3, seed=seed, gamma=0.99)
    return tpg.FiniteMDP(g.P, g.R, g.mu, gamma=1.0, horizon=H)


def exact_vs_monte_carlo(quick: bool, accuracy: float = 0.01) -> None:
    """Exact tr Cov (block, dense) against the Monte Carlo run whose tr Cov has relative standard error ``accuracy``.

    The run size is n = Var(|g - m|^2) / (accuracy tr Cov)^2, Var from a pilot of 20,000
    trajectories (not timed); the timed run is rollout + per-trajectory estimates + the trace of
    their sample covariance.
    """
    from tabular_pg.sampled.moments_blocks import linear_moments
    from tabular_pg.sampled.registry import lookup
    S, A, H = 20, 3, 10
    mdp = _finite_garnet(S, A, H)
    pol = tpg.TabularSoftmax(S, A)
    th = np.random.default_rng(SEED).normal(size=pol.n_params)
    print(f"\n## Exact tr Cov vs the Monte Carlo run that reaches {accuracy:.0%} (garnet S={S} A={A} b=3, "
          f"H={H}, gamma=1, d={pol.n_params}; best of 3)\n")
    print(f"{'estimator':20s} {'tr Cov':>10s} {'block s':>9s} {'dense s':>9s} {'|block-dense|':>13s} "
          f"{'MC n':>9s} {'MC s':>8s} {'MC/block':>9s}")
    for label, est, opts in ESTIMATORS[:3] + ESTIMATORS[5:7]:
        spec = lookup(est).terms(mdp, pol, th, H, **lookup(est).bind(opts, exact=True))
        block = linear_moments(mdp, pol, th, spec, path="block")
        dense = linear_moments(mdp, pol, th, spec, path="dense")
        t_block = _best_time(lambda est=est, opts=opts: estimator_moments(mdp, pol, th, est, **opts))
        t_dense = _best_time(lambda spec=spec: linear_moments(mdp, pol, th, spec, path="dense"), 1 if not quick else 1)
        m, C = block
        gap = np.abs(C - dense[1]).max() / np.abs(dense[1]).max()
        pilot = estimate(rollout(mdp, pol.probs(th), 20_000, np.random.default_rng(SEED + 5)), pol, th, est,
                         mdp=mdp, per_trajectory=True, **opts)
        n = int(np.ceil(np.var(np.sum((pilot - m) ** 2, axis=1)) / (accuracy * np.trace(C)) ** 2))

        def monte_carlo(n=n, est=est, opts=opts):
            per = estimate(rollout(mdp, pol.probs(th), n, np.random.default_rng(SEED + 6)), pol, th, est, mdp=mdp,
                           per_trajectory=True, **opts)
            return np.sum(np.var(per, axis=0, ddof=1))

        t_mc = _best_time(monte_carlo, 1 if quick else 3)
        print(f"{label:20s} {np.trace(C):10.3e} {t_block:9.4f} {t_dense:9.4f} {gap:13.1e} {n:9d} {t_mc:8.3f} "
              f"{t_mc / t_block:8.1f}x")
    _exact_at_scale(200 if not quick else 50, 4, 50 if not quick else 20)


def _exact_at_scale(S: int, A: int, H: int) -> None:
    """Block path time (best of 3) and peak traced memory at (S, A, H), REINFORCE reward-to-go with V baseline."""
    import tracemalloc
    mdp = _finite_garnet(S, A, H, seed=1)
    pol = tpg.TabularSoftmax(S, A)
    th = np.random.default_rng(SEED).normal(size=pol.n_params)
    opts = {"reward_to_go": True, "baseline": "value"}
    t = _best_time(lambda: estimator_moments(mdp, pol, th, "reinforce", **opts))
    tracemalloc.start()
    estimator_moments(mdp, pol, th, "reinforce", **opts)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    d = pol.n_params
    print(f"\nblock path at garnet S={S} A={A} H={H} (d={d}), rtg + V baseline: {t:.2f} s, peak memory "
          f"{peak / 2 ** 20:.0f} MiB (the dense path would hold three (S*A, d, d) arrays of "
          f"{S * A * d * d * 8 / 2 ** 30:.1f} GiB each)")


# ------------------------------------------------------------------ off-policy
def importance_vs_horizon(Hs) -> None:
    """Exact tr Cov of off-policy REINFORCE (reward-to-go, with and without the V baseline) vs H, uniform behaviour."""
    S, A = 10, 3
    pol = tpg.TabularSoftmax(S, A)
    th = np.random.default_rng(SEED).normal(size=pol.n_params)
    beta = np.full((S, A), 1 / A)
    ratio = pol.probs(th) / beta
    print(f"\n## Off-policy REINFORCE: exact tr Cov vs H (garnet S={S} A={A} b=3, gamma=1, reward-to-go; "
          f"behaviour uniform, target a random softmax, ratios pi/beta in [{ratio.min():.2f}, {ratio.max():.2f}])\n")
    rows = [("on-policy", {}), ("on-policy, V", {"baseline": "value"}),
            ("per-decision", {"importance": "per_decision"}), ("whole trajectory", {"importance": "trajectory"}),
            ("per-decision, V", {"importance": "per_decision", "baseline": "value"}),
            ("whole traj., V", {"importance": "trajectory", "baseline": "value"}),
            ("per-decision c<=1, V", {"importance": "per_decision", "truncation": 1.0, "baseline": "value"}),
            ("whole traj. c<=1, V", {"importance": "trajectory", "truncation": 1.0, "baseline": "value"})]
    print(f"{'weights (V: baseline)':22s} " + " ".join(f"{'H=' + str(H):>9s}" for H in Hs)
          + "   |bias|/|grad J| at each H")
    for label, extra in rows:
        traces, biases = [], []
        for H in Hs:
            mdp = _finite_garnet(S, A, H)
            opts = {"reward_to_go": True, **extra}
            if "importance" in extra:
                opts["behaviour"] = beta
            m, C = estimator_moments(mdp, pol, th, "reinforce", **opts)
            g = tpg.policy_gradient(mdp, pol, th)
            traces.append(np.trace(C))
            biases.append(np.linalg.norm(m - g) / np.linalg.norm(g))
        print(f"{label:22s} " + " ".join(f"{v:9.2e}" for v in traces) + "   "
              + " ".join(f"{b:.2f}" for b in biases))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (seconds)")
    ap.add_argument("--figures", default=None, help="directory for PNG figures (needs matplotlib)")
    ap.add_argument("--only", default=None, help="comma-separated sections to run: exact, offpolicy")
    args = ap.parse_args(argv)
    figures = args.figures
    if figures is not None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            Path(figures).mkdir(parents=True, exist_ok=True)
        except ImportError:
            print("matplotlib not installed: no figures")
            figures = None
    print(f"# tabular-pg estimator benchmark  seed={SEED}  python {platform.python_version()}  "
          f"numpy {np.__version__}  scipy {scipy.__version__}  tabular_pg {tpg.__version__}  "
          f"machine {platform.machine()} ({platform.processor() or 'cpu'})")
    only = None if args.only is None else set(args.only.split(","))
    if only is None or "exact" in only:
        exact_vs_monte_carlo(args.quick)
    if only is None or "offpolicy" in only:
        importance_vs_horizon([2, 4, 8] if args.quick else [2, 4, 8, 12, 16, 20])
    if only is not None:
        return
    throughput(args.quick)
    ns, reps = ([10, 100, 1000], 200) if not args.quick else ([10, 100], 50)
    for H in ((4, 8) if args.quick else (4, 8, 12)):
        mdp = chain(H)
        pol = tpg.TabularSoftmax(H + 1, 3)
        estimator_table(f"chain H={H} (uniform policy)", mdp, pol, pol.initial(), ns, reps, figures)
    g_mdp = garnet(8, 3, 3, seed=2, gamma=0.9)
    pol = tpg.TabularSoftmax(8, 3)
    th = np.random.default_rng(SEED).normal(size=pol.n_params)
    estimator_table("garnet S=8 A=3 b=3 gamma=0.9 (truncated at tol 1e-4)", g_mdp, pol, th, ns,
                    reps // 2, figures, tol=1e-4)
    cosine_check(g_mdp, pol, th)
    natural_gradient_table(g_mdp, pol, th, ns, reps // 2)
    variance_vs_horizon([4, 8, 16, 32] if args.quick else [4, 8, 16, 32, 64], figures)


if __name__ == "__main__":
    main()
