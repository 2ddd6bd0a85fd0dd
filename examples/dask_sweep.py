"""A Dask sweep: the exact variance of REINFORCE against the horizon, on a grid of MDPs.

Every grid point (MDP seed x horizon H x estimator) is one task: it builds a garnet, computes
the exact covariance of one trajectory's gradient estimate and returns tr Cov. ``sweep`` runs
the tasks on a local Dask cluster (or serially with ``--serial``), seeds each point from a hash
of its parameters (so a row is bit-identical wherever and in whatever order it ran), writes
rows to a checkpoint as they finish (a rerun resumes), and returns a pandas DataFrame.

Run:  python examples/dask_sweep.py [--serial] [--out table.csv]     (needs the `sweep` extra)
"""
import argparse

import numpy as np

import tabular_pg as tpg
from mdps import garnet
from tabular_pg.sweep import grid, sweep, write_table


def variance(point: dict, rng: np.random.Generator) -> dict:
    """tr Cov of one trajectory's estimate, exactly (no sampling: ``rng`` is unused)."""
    base = garnet(8, 3, 3, seed=point["mdp_seed"], gamma=0.95)
    mdp = tpg.FiniteMDP(base.P, base.R, base.mu, gamma=base.gamma, horizon=point["H"])
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    options = {"total return": {}, "reward-to-go": {"reward_to_go": True},
               "reward-to-go + V": {"reward_to_go": True, "baseline": "value"}}[point["estimator"]]
    _, cov = tpg.estimator_moments(mdp, policy, policy.initial(), estimator="reinforce", **options)
    return {"trace": float(np.trace(cov))}


def main(scheduler=None, out: str | None = None, n_workers: int = 2, checkpoint=None):
    points = grid(mdp_seed=[0, 1], H=[2, 4, 8, 16], estimator=["total return", "reward-to-go", "reward-to-go + V"])
    table = sweep(variance, points, scheduler=scheduler, n_workers=n_workers, progress=False, checkpoint=checkpoint)
    summary = table.pivot_table(index="H", columns="estimator", values="trace", aggfunc="mean")
    print("mean tr Cov over the MDP seeds, by horizon:")
    print(summary.to_string(float_format=lambda x: f"{x:10.3f}"))
    if out:
        print(f"wrote {write_table(table, out)}")
    return table


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    ap.add_argument("--out", help="write the table (.csv, .parquet or .json)")
    args = ap.parse_args()
    main("serial" if args.serial else None, args.out)
