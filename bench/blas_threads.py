"""Benchmark: 1,000 dense evaluations at S = 200 with the BLAS threads the library pins.

Run ``python bench/blas_threads.py [--runs 5]``.  Each run times 1,000 calls of
``evaluate`` + ``policy_gradient`` on ``garnet(200, 4, 5, gamma=0.99)`` (dense LU path)
three ways in this process: the default environment (numpy's OpenBLAS threads; the
library pins one thread inside, :mod:`tabular_pg.exact.blas`), under an outer
``threadpool_limits(1)``, and under an outer ``threadpool_limits(2)``; and it measures the
cost of entering the pin (outermost and nested) against ``threadpool_limits(1)``.
Bar (issue 18): the default within 2x of the pinned time, results bit-identical.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mdps  # noqa: E402
import tabular_pg as tpg  # noqa: E402
from tabular_pg.exact.blas import blas_thread_counts, one_blas_thread  # noqa: E402

SEED = 20261122


def thousand(mdp, policy, thetas) -> tuple[float, bytes]:
    """Seconds and result bytes of ``evaluate`` + ``policy_gradient`` at each of ``thetas``."""
    out = []
    t0 = time.perf_counter()
    for theta in thetas:
        ev = tpg.evaluate(mdp, policy.probs(theta))
        out.append(ev.V.tobytes() + tpg.policy_gradient(mdp, policy, theta, evaluation=ev).tobytes())
    return time.perf_counter() - t0, b"".join(out)


def entry_cost(make, n: int = 2000) -> float:
    """Microseconds to enter and leave the context ``make()``."""
    t0 = time.perf_counter()
    for _ in range(n):
        with make():
            pass
    return (time.perf_counter() - t0) / n * 1e6


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    mdp = mdps.garnet(200, 4, 5, seed=SEED, gamma=0.99)
    policy = tpg.TabularSoftmax(200, 4)
    thetas = np.random.default_rng(SEED).normal(size=(1000, 800))
    print(f"BLAS threads by default: {blas_thread_counts()}")
    rows = {"default": [], "outer threadpool_limits(1)": [], "outer threadpool_limits(2)": []}
    reference = None
    for _ in range(args.runs):
        for name, ctx in (("default", None), ("outer threadpool_limits(1)", 1), ("outer threadpool_limits(2)", 2)):
            if ctx is None:
                seconds, bits = thousand(mdp, policy, thetas)
            else:
                with threadpool_limits(ctx):
                    seconds, bits = thousand(mdp, policy, thetas)
            reference = bits if reference is None else reference
            rows[name].append(seconds)
            assert bits == reference, f"{name}: results differ from the first run"
    pinned = np.median(rows["outer threadpool_limits(1)"])
    print("| 1,000 × (evaluate + ∇J), S = 200 | median | min | max | median / pinned |\n|---|---|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {np.median(times):.3f} s | {min(times):.3f} s | {max(times):.3f} s | "
              f"{np.median(times) / pinned:.2f}× |")
    print("results bit-identical in every run: yes")
    with one_blas_thread():
        nested = entry_cost(one_blas_thread)
    print(f"entering the pin: outermost {entry_cost(one_blas_thread):.1f} µs, nested {nested:.1f} µs; "
          f"threadpool_limits(1) {entry_cost(lambda: threadpool_limits(1)):.0f} µs")


if __name__ == "__main__":
    main()
