"""Benchmark: this engine against the libraries a user would otherwise pick.

Run ``python bench/peers.py [--quick] [--write] [--figure PATH]``.  One command prints
(and with ``--write`` stores in ``bench/RESULTS.md``), with the machine and versions:

1. **policy evaluation** of a stochastic softmax policy on ``garnet(S, 4, 5, gamma=0.99)``,
   S in {1e3, 3e3, 1e4}: ours (V, Q, A, d, J and the exact gradient ∇J) against numpy's
   dense ``np.linalg.solve`` and pymdptoolbox's policy evaluation; time, peak traced memory
   and the relative error of V and d against a reference (dense LU with two steps of
   iterative refinement);
2. **the optimum**: our ``optimum`` (policy iteration with exact evaluation) against
   pymdptoolbox policy and value iteration, mdpsolver (C++ modified policy iteration) and
   QuantEcon ``DiscreteDP`` policy iteration: time, error of V against the exact V*, and
   the exact sub-optimality ``J* - J(π_peer)`` of the policy each returns;
3. **rollouts** on FrozenLake 8x8: ours (:func:`tabular_pg.sampled.rollout.rollout`) against
   gymnasium stepped in a Python loop, and numpy's ``rng.random`` ceiling;
4. **ours alone** at S = 1e5 and 1e6 (garnet and grid), from ``bench/exact_scaling.py``.

Every (part, size) runs in its own subprocess (peak memory is per process).  A peer
whose time at the next size is predicted (from its measured growth) to exceed
``BUDGET_S`` is not run there, and the table says so.  pymdptoolbox evaluates only
deterministic policies: the stochastic policy is handed to it as the one-action MDP
``(P_π, r_π)``, which its policy evaluation solves exactly as it would a policy's.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import exact_scaling as xs  # noqa: E402

import tabular_pg as tpg  # noqa: E402
from tabular_pg.exact.evaluation import transition_matrix  # noqa: E402

SIZES = [1000, 3000, 10_000]
BUDGET_S = 150.0
PEERS = ["pymdptoolbox", "mdpsolver", "quantecon", "gymnasium"]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def timed(fn, repeats: int = 2):
    """``(best seconds, traced peak MB, result)``: best of ``repeats`` (one if the first run
    takes over 5 s), then one traced run."""
    seconds, out = xs.best_time(fn, 1)
    if seconds < 5 and repeats > 1:
        seconds = min(seconds, xs.best_time(fn, repeats - 1)[0])
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, out


def rel(x, ref) -> float:
    return float(np.abs(np.asarray(x).ravel() - ref).max() / np.abs(ref).max())


# ----------------------------------------------------------------- 1. evaluation
def reference_solve(mdp, pi):
    """V and d̃ by dense LU plus two steps of iterative refinement (float64 residuals)."""
    P_pi = transition_matrix(mdp, pi)
    M = np.eye(mdp.n_states) - mdp.gamma * (P_pi.toarray() if sp.issparse(P_pi) else P_pi)
    lu = sla.lu_factor(M, check_finite=False)
    out = []
    for A, b, trans in ((M, (pi * mdp.R).sum(axis=1), 0), (M.T, mdp.mu, 1)):
        x = sla.lu_solve(lu, b, trans=trans)
        for _ in range(2):
            x = x + sla.lu_solve(lu, b - A @ x, trans=trans)
        out.append(x)
    return out


def numpy_everything(mdp, policy, theta):
    """V, Q, A, d̃ and ∇J with numpy's dense solves (the hand-written baseline)."""
    pi = policy.probs(theta)
    V, visits = xs.numpy_dense(mdp, pi)
    A = mdp.R + mdp.gamma * (mdp.P_sa @ V).reshape(pi.shape) - V[:, None]
    return V, visits, policy.vjp(theta, visits[:, None] * A)


def mdptoolbox_evaluation(mdp, pi):
    """pymdptoolbox's matrix policy evaluation of the one-action MDP (P_π, r_π)."""
    from mdptoolbox.mdp import PolicyIteration

    r_pi = (pi * mdp.R).sum(axis=1)[:, None]
    pe = PolicyIteration([transition_matrix(mdp, pi)], r_pi, mdp.gamma,
                         policy0=np.zeros(mdp.n_states, dtype=int), eval_type=0)
    return lambda: (pe._evalPolicyMatrix(), np.asarray(pe.V).ravel())[1]


def evaluation_child(S: int, skip: list[str]) -> list[dict]:
    mdp = xs.make_mdp("garnet", S)
    policy = tpg.TabularSoftmax(S, 4)
    theta = xs.random_theta(mdp)
    V_ref, d_ref = reference_solve(mdp, policy.probs(theta))
    rows = []
    t, mem, (ev, g) = timed(lambda: xs.ours(mdp, policy, theta), 3)
    rows.append({"method": "ours", "what": "V,Q,A,d,∇J", "s": t, "mb": mem, "err_V": rel(ev.V, V_ref),
                 "err_d": rel(ev.visits, d_ref), "solver": ev.solver})
    t, mem, V = timed(lambda: tpg.evaluate(mdp, policy.probs(theta)).V, 3)
    rows.append({"method": "ours", "what": "V,Q,A,d", "s": t, "mb": mem, "err_V": rel(V, V_ref)})
    if "numpy" not in skip:
        t, mem, (V, d, _) = timed(lambda: numpy_everything(mdp, policy, theta))
        rows.append({"method": "numpy", "what": "V,Q,A,d,∇J", "s": t, "mb": mem, "err_V": rel(V, V_ref),
                     "err_d": rel(d, d_ref)})
    if "pymdptoolbox" not in skip:
        t, mem, V = timed(mdptoolbox_evaluation(mdp, policy.probs(theta)))
        rows.append({"method": "pymdptoolbox", "what": "V", "s": t, "mb": mem, "err_V": rel(V, V_ref)})
    return rows


# ----------------------------------------------------------------- 2. optimum
def peer_solvers(mdp):
    """name -> zero-argument callable returning (V, greedy actions); inputs built untimed."""
    A = mdp.n_actions
    P = sp.csr_matrix(mdp.P_sa)
    per_action = [sp.csr_matrix(P[a::A]) for a in range(A)]
    solvers = {}
    import mdptoolbox.mdp as tb

    def toolbox(cls, **kw):
        def run():
            m = cls(per_action, mdp.R, mdp.gamma, **kw)
            m.run()
            return np.asarray(m.V, float), np.asarray(m.policy, int)
        return run

    solvers["pymdptoolbox PI"] = toolbox(tb.PolicyIteration, eval_type=0)
    solvers["pymdptoolbox VI (ε=0.01)"] = toolbox(tb.ValueIteration, epsilon=0.01)
    solvers.update(mdpsolver_runs(mdp, P))
    solvers["QuantEcon PI"] = quantecon_run(mdp, P)
    return solvers


def mdpsolver_runs(mdp, P) -> dict:
    import mdpsolver

    S, A = mdp.n_states, mdp.n_actions
    width = np.diff(P.indptr)
    if (width != width[0]).any():
        raise ValueError("mdpsolver's (probs, columns) lists need a constant number of successors")
    probs = P.data.reshape(S, A, width[0]).tolist()
    cols = P.indices.reshape(S, A, width[0]).tolist()
    runs = {}
    for tol in (1e-3, 1e-10):
        def run(tol=tol):
            m = mdpsolver.model()
            m.mdp(discount=mdp.gamma, rewards=mdp.R.tolist(), tranMatProbs=probs, tranMatColumns=cols)
            m.solve(algorithm="mpi", tolerance=tol, verbose=False)
            return np.array(m.getValueVector(), float), np.array(m.getPolicy(), int)
        runs[f"mdpsolver MPI (tol={tol:g})"] = run
    return runs


def quantecon_run(mdp, P):
    from quantecon.markov import DiscreteDP

    def run():
        s_indices, a_indices = np.divmod(np.arange(P.shape[0]), mdp.n_actions)
        ddp = DiscreteDP(mdp.R.ravel(), P, mdp.gamma, s_indices, a_indices)
        res = ddp.solve(method="policy_iteration")
        return res.v, res.sigma
    return run


def accuracy_note(row: dict) -> str:
    """Say whether a peer's V is exact, and whether its policy is optimal anyway."""
    if row["err_V"] <= 1e-10:
        return "exact to solver precision"
    policy = "its policy is optimal" if row["gap"] <= 1e-9 * 100 else f"its policy loses {row['gap']:.1e} in J"
    return f"only ε-accurate: V off by {row['err_V']:.0e} (relative); {policy}"


def optimum_child(S: int, skip: list[str]) -> list[dict]:
    mdp = xs.make_mdp("garnet", S)
    t, mem, opt = timed(lambda: tpg.optimum(mdp), 3)
    bellman = rel(tpg.exact.evaluation.q_from_v(mdp, opt.V).max(axis=1), opt.V) * np.abs(opt.V).max()
    rows = [{"method": "ours optimum", "s": t, "mb": mem, "err_V": 0.0, "gap": 0.0, "same": 1.0,
             "note": f"Bellman residual {bellman:.1e}, {opt.iterations} PI steps, exact"}]
    for name, run in peer_solvers(mdp).items():
        if name in skip:
            continue
        t, mem, (V, actions) = timed(run)
        J_peer = tpg.evaluate(mdp, np.eye(mdp.n_actions)[actions]).J
        row = {"method": name, "s": t, "mb": mem, "err_V": rel(V, opt.V), "gap": opt.J - J_peer,
               "same": float((actions == opt.pi.argmax(axis=1)).mean())}
        rows.append({**row, "note": accuracy_note(row)})
    return rows


# ----------------------------------------------------------------- 3. rollouts
def frozenlake():
    """FrozenLake 8x8 (slippery) as a FiniteMDP, gamma = 0.99, from gymnasium's own tables."""
    import gymnasium

    env = gymnasium.make("FrozenLake-v1", map_name="8x8")
    table = env.unwrapped.P
    S, A = len(table), len(table[0])
    rows, cols, probs, R = [], [], [], np.zeros((S, A))
    for s in range(S):                 # setup of 256 rows, not a hot path
        for a in range(A):
            for p, s2, r, _ in table[s][a]:
                rows.append(s * A + a), cols.append(s2), probs.append(p)
                R[s, a] += p * r
    P = sp.csr_matrix((probs, (rows, cols)), shape=(S * A, S))
    mu = np.zeros(S)
    mu[0] = 1.0
    return env, tpg.FiniteMDP(P, R, mu, gamma=0.99)


def gym_steps_per_second(env, seconds: float = 3.0) -> float:
    rng = np.random.default_rng(xs.SEED)
    steps, t0 = 0, time.perf_counter()
    env.reset(seed=xs.SEED)
    while time.perf_counter() - t0 < seconds:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def rollouts_child(skip: list[str]) -> list[dict]:
    from tabular_pg.sampled.rollout import rollout

    env, mdp = frozenlake()
    pi = np.full((mdp.n_states, 4), 0.25)
    n, rng = 100_000, np.random.default_rng(xs.SEED)
    t, traj = xs.best_time(lambda: rollout(mdp, pi, n, rng, horizon=200), 3)
    steps = int(traj.lengths.sum())
    rows = [{"method": f"ours: rollout, n={n:,} episodes, H=200", "rate": steps / t,
             "note": f"{steps:,} steps (episodes end in a hole, the goal or at 200 steps)"}]
    if "gymnasium" not in skip:
        rows.append({"method": "gymnasium FrozenLake-v1 8x8, Python loop", "rate": gym_steps_per_second(env),
                     "note": "env.step with a uniformly random action; TimeLimit 200"})
    draws, _ = xs.best_time(lambda: rng.random(10**7), 3)
    rows.append({"method": "numpy rng.random ceiling (2 uniforms a step)", "rate": 10**7 / draws / 2,
                 "note": f"{10**7 / draws:.3g} uniforms/s"})
    return rows


# ----------------------------------------------------------------- driver
CHILDREN = {"evaluation": evaluation_child, "optimum": optimum_child}


def run_child(part: str, S: int, skip: list[str]) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", part, str(S), "--skip", json.dumps(skip)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=xs.CHILD_TIMEOUT, check=True,
                             env=xs.child_env())
    except subprocess.TimeoutExpired:
        return [{"method": "(all)", "error": f"timed out after {xs.CHILD_TIMEOUT} s"}]
    except subprocess.CalledProcessError as exc:
        return [{"method": "(all)", "error": exc.stderr.strip().splitlines()[-1]}]
    return json.loads(out.stdout.strip().splitlines()[-1])


def predicted_skips(rows: list[dict], S: int, S_next: int) -> list[str]:
    """Methods whose time, grown like S^3 (dense) or S^2 (others), would exceed the budget."""
    skip = []
    for r in rows:
        if "s" not in r or r["method"].startswith("ours"):
            continue
        power = 3 if r["method"] in ("numpy", "pymdptoolbox", "pymdptoolbox PI", "QuantEcon PI") else 2
        if r["s"] * (S_next / S) ** power > BUDGET_S:
            skip.append(r["method"])
    return skip


def sized_part(part: str, sizes: list[int]) -> dict[int, list[dict]]:
    out, skip = {}, []
    for i, S in enumerate(sizes):
        rows = run_child(part, S, skip)
        rows += [{"method": m, "skipped": f"predicted > {BUDGET_S:.0f} s"} for m in skip]
        out[S] = rows
        print(f"  {part} S={S:,} done", file=sys.stderr)
        if i + 1 < len(sizes):
            skip = sorted(set(skip) | set(predicted_skips(rows, S, sizes[i + 1])))
    return out


def ms(x: float) -> str:
    return f"{x * 1e3:,.1f} ms" if x < 10 else f"{x:,.1f} s"


def evaluation_table(parts: dict) -> str:
    lines = ["| S | method | computes | time | time / ours (V,Q,A,d,∇J) | peak traced | rel. error V | rel. error d |",
             "|---|---|---|---|---|---|---|---|"]
    for S, rows in parts.items():
        ours = next((r["s"] for r in rows if r.get("what") == "V,Q,A,d,∇J" and r["method"] == "ours"), None)
        for r in rows:
            if "s" not in r:
                lines.append(f"| {S:,} | {r['method']} | | {r.get('skipped', r.get('error'))} | | | | |")
                continue
            ratio = f"{r['s'] / ours:,.{0 if r['s'] > 10 * ours else 1}f}×"
            lines.append(f"| {S:,} | {r['method']}{' (' + r['solver'] + ')' if 'solver' in r else ''} | "
                         f"{r['what']} | {ms(r['s'])} | {ratio} | {r['mb']:,.0f} MB | {r['err_V']:.1e} | "
                         f"{'—' if 'err_d' not in r else format(r['err_d'], '.1e')} |")
    return "\n".join(lines)


def optimum_table(parts: dict) -> str:
    lines = ["| S | method | time | peak traced | ‖V − V*‖∞/‖V*‖∞ | J* − J(π) | same action | note |",
             "|---|---|---|---|---|---|---|---|"]
    for S, rows in parts.items():
        for r in rows:
            if "s" not in r:
                lines.append(f"| {S:,} | {r['method']} | {r.get('skipped', r.get('error'))} | | | | | |")
                continue
            lines.append(f"| {S:,} | {r['method']} | {ms(r['s'])} | {r['mb']:,.0f} MB | {r['err_V']:.1e} | "
                         f"{r['gap']:.1e} | {100 * r['same']:.1f}% | {r.get('note', '')} |")
    return "\n".join(lines)


def rollout_table(rows: list[dict]) -> str:
    lines = ["| method | steps / s | note |", "|---|---|---|"]
    lines += [f"| {r['method']} | {r['rate']:,.3g} | {r['note']} |" for r in rows]
    return "\n".join(lines)


def versions() -> str:
    names = ["numpy", "scipy", "pymdptoolbox", "mdpsolver", "quantecon", "gymnasium"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def report(quick: bool) -> str:
    sizes = [300, 1000] if quick else SIZES
    big = [10**4] if quick else [10**5, 10**6]
    head = [f"Machine: {xs.machine()}", "", f"Versions: {versions()}", "",
            f"MDPs: `garnet(S, 4, 5, seed={xs.SEED}, gamma=0.99)` (CSR from S = 1000 on); policy: "
            f"tabular softmax, θ ~ N(0, 1) (seed {xs.SEED + 1}). Times are the best of 3 runs for ours, "
            "best of 2 for peers under 5 s; memory is the peak of traced (numpy/Python) allocations during "
            "the call. Peers whose time at the next size was predicted to exceed "
            f"{BUDGET_S:.0f} s were not run there."]
    evaluation = sized_part("evaluation", sizes)
    optimum = sized_part("optimum", sizes)
    rollouts = run_child("rollouts", 0, [])
    alone = xs.scaling_rows(["garnet", "grid"], big, repeats=2)
    batch = xs.run_child("batch", 0, 3)
    data = {"evaluation": evaluation, "optimum": optimum}
    return data, "\n".join(head + ["", "## 1. Policy evaluation of a stochastic policy", "",
                             evaluation_table(evaluation), "",
                             "## 2. The optimum", "", optimum_table(optimum), "",
                             "## 3. Rollouts (FrozenLake 8x8, uniform policy)", "", rollout_table(rollouts), "",
                             "## 4. Ours alone at scale", "", xs.table(alone), "",
                             "## 5. Batched evaluation (`tabular_pg.exact.batch.evaluate_batch`) against a loop", "",
                             xs.table_or_error(batch, xs.batch_table), ""])


def figure(data: dict, path: str) -> None:
    """Time against S per method, log-log, for the evaluation and the optimum (matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (part, parts) in zip(axes, data.items()):
        series: dict = {}
        for S, rows in parts.items():
            for r in rows:
                if "s" in r:
                    series.setdefault(f"{r['method']} {r.get('what', '')}".strip(), []).append((S, r["s"]))
        for name, pts in series.items():
            ax.loglog(*zip(*pts), marker="o", label=name)
        ax.set(title=part, xlabel="states S", ylabel="seconds")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def kept_sections(old: str, new: str) -> str:
    """The ``## `` sections of ``old`` whose headings ``new`` does not have: those other
    benchmarks write (section 6 by ``bench/sample_efficiency.py``, 7 by hand from
    ``bench/blas_threads.py`` and ``bench/exact_scaling.py``), kept when this one rewrites the file."""
    headings = {line for line in new.splitlines() if line.startswith("## ")}
    sections = old.split("\n## ")[1:]
    return "".join(f"\n## {sec.rstrip()}\n" for sec in sections if f"## {sec.splitlines()[0]}" not in headings)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--skip", default="[]", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--write", action="store_true", help=f"write the report to {RESULTS}")
    ap.add_argument("--blas-threads", type=int, default=xs.BLAS_THREADS)
    ap.add_argument("--figure", default=None, help="save a log-log figure here (needs matplotlib)")
    args = ap.parse_args(argv)
    xs.BLAS_THREADS = args.blas_threads
    if args.child:
        part, S = args.child[0], int(float(args.child[1]))
        skip = json.loads(args.skip)
        rows = rollouts_child(skip) if part == "rollouts" else CHILDREN[part](S, skip)
        print(json.dumps(rows))
        return
    data, text = report(args.quick)
    print(text)
    if args.figure:
        figure(data, args.figure)
    if args.write:
        kept = kept_sections(RESULTS.read_text() if RESULTS.exists() else "", text)
        RESULTS.write_text("# Benchmark results\n\nWritten by `python bench/peers.py --write`.\n\n" + text + kept)


if __name__ == "__main__":
    main()
