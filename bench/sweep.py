"""Benchmark grids run through :func:`tabular_pg.sweep.sweep` (Dask).

Run ``python bench/sweep.py [--grid exact|estimators] [--scheduler ADDRESS|serial]
[--workers N] [--out rows.csv|rows.parquet] [--checkpoint rows.jsonl] [--timeout S]
[--retries K] [--quick]``.  Without ``--scheduler`` a local cluster of processes runs the
grid; with an address, an existing Dask cluster does, unchanged.  Every row's generator is
seeded from a hash of its grid point, so the numbers are the same wherever they ran
(``--check`` reruns the grid serially and compares bit for bit).  With ``--checkpoint``
rows are appended as they finish and a rerun skips them; a task on a worker longer than
``--timeout`` seconds is retried on another worker, and the points that never finish are
listed (exit status 1).

Grids:

* ``exact``: garnet seeds x gamma -> J, ||grad J||, the solver and its residual, for a
  random softmax policy;
* ``estimators``: MDP x H x n x estimator x seed -> the squared error of one sampled
  gradient against the exact gradient, beside the exact mean squared error
  ``tr Cov / n + ||bias||^2`` from :func:`tabular_pg.sampled.moments.estimator_moments`.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tabular_pg as tpg
from mdps import chain, garnet
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import rollout
from tabular_pg.sweep import SweepIncomplete, grid, sweep, write_table

ESTIMATORS = {
    "reinforce": ("reinforce", {}),
    "reinforce_rtg_V": ("reinforce", {"reward_to_go": True, "baseline": "value"}),
    "qvalue_A": ("qvalue", {"advantage": True}),
    "gae_0.9": ("gae", {"lam": 0.9}),
}


def exact_point(point: dict, rng: np.random.Generator) -> dict:
    """J, ||grad J||, solver and residual of a random softmax policy on a garnet."""
    S = point["S"]
    mdp = garnet(S, 4, 5, seed=point["mdp_seed"], gamma=point["gamma"])
    policy = tpg.TabularSoftmax(S, 4)
    theta = rng.normal(size=S * 4)
    ev = tpg.evaluate(mdp, policy.probs(theta))
    g = tpg.policy_gradient(mdp, policy, theta, evaluation=ev)
    return {"J": ev.J, "grad_norm": float(np.linalg.norm(g)), "solver": ev.solver, "residual": ev.residual}


def _mdp(name: str, H: int):
    if name == "chain":
        return chain(H)
    return garnet(10, 3, 3, seed=0, gamma=0.9).with_(gamma=1.0, horizon=H)


def estimator_point(point: dict, rng: np.random.Generator) -> dict:
    """Squared error of one estimate from ``n`` trajectories, and the exact MSE."""
    mdp = _mdp(point["mdp"], point["H"])
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = 0.5 * rng.normal(size=policy.n_params)
    name, options = ESTIMATORS[point["estimator"]]
    g = tpg.policy_gradient(mdp, policy, theta)
    traj = rollout(mdp, policy.probs(theta), n=point["n"], rng=rng)
    g_hat = estimate(traj, policy, theta, estimator=name, mdp=mdp, **options)
    mean, cov = estimator_moments(mdp, policy, theta, estimator=name, **options)
    return {"sq_error": float(np.sum((g_hat - g) ** 2)),
            "exact_mse": float(np.trace(cov) / point["n"] + np.sum((mean - g) ** 2))}


def grids(quick: bool) -> dict:
    seeds = range(4 if quick else 16)
    return {
        "exact": (exact_point, grid(S=[100, 1000] if quick else [100, 1000, 10_000],
                                    gamma=[0.9, 0.99], mdp_seed=list(seeds))),
        "estimators": (estimator_point, grid(mdp=["chain", "garnet"], H=[5, 10] if quick else [5, 10, 20],
                                             n=[10, 100], estimator=list(ESTIMATORS),
                                             seed=list(seeds))),
    }


def summary(frame, kind: str) -> str:
    """A table: exact rows averaged over seeds, estimator rows' mean squared error vs exact."""
    rows = frame.to_dict("records")
    keys = ["S", "gamma"] if kind == "exact" else ["mdp", "H", "n", "estimator"]
    groups: dict = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    if kind == "exact":
        head = "| S | gamma | mean J | mean ||grad J|| | max residual | solver |\n|---|---|---|---|---|---|"
        body = [f"| {k[0]} | {k[1]} | {np.mean([r['J'] for r in g]):.6f} | "
                f"{np.mean([r['grad_norm'] for r in g]):.3e} | {max(r['residual'] for r in g):.1e} | "
                f"{g[0]['solver']} |" for k, g in groups.items()]
    else:
        head = ("| MDP | H | n | estimator | Monte Carlo MSE (over seeds) | exact MSE | ratio |\n"
                "|---|---|---|---|---|---|---|")
        body = []
        for k, g in groups.items():
            mc, ex = np.mean([r["sq_error"] for r in g]), g[0]["exact_mse"]
            body.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {mc:.4g} | {ex:.4g} | {mc / ex:.2f} |")
    return "\n".join([head, *body])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=["exact", "estimators"], default="exact")
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address, or 'serial'")
    ap.add_argument("--workers", type=int, default=None, help="local cluster processes (default: cores)")
    ap.add_argument("--out", default=None, help="write the rows to this .csv, .parquet or .json")
    ap.add_argument("--checkpoint", default=None, help="append rows to this .jsonl as they finish; resume from it")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds a task may run before it is retried")
    ap.add_argument("--retries", type=int, default=2, help="retries of a task that timed out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--check", action="store_true", help="rerun serially and compare bit for bit")
    args = ap.parse_args(argv)
    import dask
    import distributed
    print(f"python {platform.python_version()}, numpy {np.__version__}, dask {dask.__version__}, "
          f"distributed {distributed.__version__}, {platform.machine()}; seeds: SHA-256 of each grid point")
    fn, points = grids(args.quick)[args.grid]
    t0 = time.perf_counter()
    try:
        rows = sweep(fn, points, scheduler=args.scheduler, n_workers=args.workers, timeout=args.timeout,
                     retries=args.retries, checkpoint=args.checkpoint)
    except SweepIncomplete as exc:
        print(exc, file=sys.stderr)
        for point in exc.missing:
            print(f"missing: {point}", file=sys.stderr)
        sys.exit(1)
    where = args.scheduler or f"local cluster ({args.workers or 'one per core'} processes)"
    print(f"{len(rows)} grid points on {where} in {time.perf_counter() - t0:.1f} s\n")
    print(summary(rows, args.grid))
    if args.check:
        same = sweep(fn, points[::-1], scheduler="serial", progress=False)[::-1].reset_index(drop=True).equals(rows)
        print(f"\nserial rerun in reversed order bit-identical: {same}")
    if args.out:
        print(f"rows written to {write_table(rows, args.out)}")


if __name__ == "__main__":
    main()
