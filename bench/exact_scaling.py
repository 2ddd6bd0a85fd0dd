"""Benchmark: exact evaluation and policy gradient from S = 1e2 to 1e6 states.

Run ``python bench/exact_scaling.py [--sizes 1e2,1e3,...] [--kinds garnet,grid]``.  For
each MDP and size, one subprocess builds the MDP and times ``evaluate`` +
``policy_gradient`` (V, Q, A, d, J and the exact gradient of a tabular softmax policy at
random parameters), best of ``repeats`` runs; it reports the solver chosen, the relative
residual, the process's peak RSS (``getrusage``, including the MDP itself) and the peak of
numpy allocations during one evaluation (``tracemalloc``, an untimed extra run), beside
numpy's dense ``np.linalg.solve`` of the two linear systems where the dense matrix fits
(S <= 1e4).

MDPs: ``garnet(S, 4, 5, seed=SEED, gamma=0.99)``, CSR from S = 1000 on; a slippery ``w x w`` gridworld
(``w = round(sqrt(S))``, goal +1 in a corner, step reward -0.01, slip 0.2, gamma 0.99).
Targets (issue 7): S = 1e4 in <= 20 ms; S = 1e6 in <= 2 s and <= 2 GB.  Sparse products
run on ``TABULAR_PG_NUM_THREADS`` threads (default: the usable cores; ``tabular_pg.exact.matvec``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mdps  # noqa: E402
import tabular_pg as tpg  # noqa: E402
from tabular_pg.exact import matvec  # noqa: E402
from tabular_pg.exact.evaluation import transition_matrix  # noqa: E402

SEED = 20261122
SIZES = [10**2, 10**3, 10**4, 10**5, 10**6]
DENSE_LIMIT = 10**4
CHILD_TIMEOUT = 600
#: BLAS threads of every measuring subprocess (``--blas-threads``).  One by default: on a
#: shared 2-core machine a 2-thread OpenBLAS LU of 300 states took 69 ms against ~2 ms.
BLAS_THREADS = 1


def child_env() -> dict:
    """This process's environment with the BLAS thread count of :data:`BLAS_THREADS`."""
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(BLAS_THREADS)
    return env


def make_mdp(kind: str, S: int):
    """The benchmark MDP of about ``S`` states (``kind``: ``'garnet'``, ``'garnet:GAMMA'`` or ``'grid'``)."""
    if kind.startswith("garnet"):            # 'garnet' (gamma 0.99) or e.g. 'garnet:0.9999'
        gamma = float(kind.partition(":")[2] or 0.99)
        return mdps.garnet(S, 4, 5, seed=SEED, gamma=gamma, sparse=S >= 1000)
    w = max(2, round(S ** 0.5))
    layout = ["G" + "." * (w - 1)] + ["." * w] * (w - 1)
    return mdps.gridworld(layout, terminals={"G": 1.0}, step_reward=-0.01, slip=0.2, gamma=0.99)


def random_theta(mdp) -> np.ndarray:
    """Softmax parameters ``(S*A,)`` drawn from N(0, 1) with the benchmark seed."""
    return np.random.default_rng(SEED + 1).normal(size=mdp.n_states * mdp.n_actions)


def best_time(fn, repeats: int) -> tuple[float, object]:
    """Smallest wall-clock time of ``repeats`` calls of ``fn`` and its last result."""
    times, out = [], None
    for _ in range(repeats):
        out = None                     # not held while the next call runs (peak memory)
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def ours(mdp, policy, theta):
    """Everything the policy-gradient lectures need: V, Q, A, d, J and the exact gradient."""
    ev = tpg.evaluate(mdp, policy.probs(theta))
    return ev, tpg.policy_gradient(mdp, policy, theta, evaluation=ev)


def numpy_dense(mdp, pi):
    """``np.linalg.solve`` of :math:`(I-\\gamma P_\\pi)V = r_\\pi` and the transposed system for d̃."""
    P_pi = transition_matrix(mdp, pi)
    M = np.eye(mdp.n_states) - mdp.gamma * (P_pi.toarray() if mdp.is_sparse else P_pi)
    V = np.linalg.solve(M, (pi * mdp.R).sum(axis=1))
    return V, np.linalg.solve(M.T, mdp.mu)


def traced_peak(fn) -> int:
    """Peak bytes of Python/numpy allocations during ``fn()``."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``; ``getrusage`` where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count from the current RSS (Linux ``clear_refs``); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(kind: str, S: int, repeats: int) -> dict:
    """Measure one (MDP, size) in this process; the parent runs it in a fresh subprocess.

    Two peaks of resident memory: while building the MDP, and while evaluating (the MDP
    resident, plus everything ``evaluate`` and ``policy_gradient`` allocate, SuperLU's
    factors included, which ``tracemalloc`` does not see).
    """
    t0 = time.perf_counter()
    mdp = make_mdp(kind, S)
    build = time.perf_counter() - t0
    build_rss = peak_rss_mb()
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = random_theta(mdp)
    reset = reset_peak_rss()
    seconds, (ev, g) = best_time(lambda: ours(mdp, policy, theta), repeats)
    row = {"kind": kind, "S": mdp.n_states, "build_s": build, "ours_s": seconds, "solver": ev.solver,
           "residual": ev.residual, "products": list(ev.products), "J": ev.J, "grad_norm": float(np.linalg.norm(g)),
           "build_rss_mb": build_rss, "rss_mb": peak_rss_mb() if reset else None,
           "threads": matvec.num_threads()}
    row["traced_mb"] = traced_peak(lambda: ours(mdp, policy, theta)) / 2**20
    if mdp.n_states <= DENSE_LIMIT:
        pi = policy.probs(theta)
        row["numpy_s"], (V, d) = best_time(lambda: numpy_dense(mdp, pi), 1 if S >= DENSE_LIMIT else repeats)
        row["numpy_vs_ours_V"] = float(np.abs(V - ev.V).max() / np.abs(V).max())
    return row


def run_child(kind: str, S: int, repeats: int, timeout: float = CHILD_TIMEOUT) -> dict:
    """``child(kind, S)`` in a fresh interpreter, so that its peak RSS is its own."""
    cmd = [sys.executable, __file__, "--child", kind, str(S), "--repeats", str(repeats)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True, env=child_env())
    except subprocess.TimeoutExpired:
        return {"kind": kind, "S": S, "error": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {"kind": kind, "S": S, "error": exc.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """One line: CPU, cores, memory, load, and the versions the numbers depend on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; load average {load} (a shared machine); "
            f"BLAS threads per measurement: {BLAS_THREADS}; sparse-product threads: "
            f"{matvec.num_threads()}; python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; seed {SEED}")


def fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def products(counts) -> str:
    """``'29 + 33 + 1 = 63'``: forward and transposed products of the solves, and Q's one."""
    if not counts or not any(counts):
        return "—"
    return f"{counts[0]} + {counts[1]} + 1 = {sum(counts) + 1}"


def table(rows: list[dict]) -> str:
    """Markdown table of the measured rows."""
    lines = ["| MDP | S | ours: V,Q,A,d,∇J | solver | residual | sparse products (fwd + transp. + Q) | "
             "peak RSS: building the MDP | peak RSS: evaluating | evaluate peak (traced) | numpy dense solve V,d | "
             "speed-up |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['kind']} | {r['S']:,} | {r['error']} | | | | | | | | |")
            continue
        numpy_s = r.get("numpy_s")
        lines.append(
            f"| {r['kind']} | {r['S']:,} | {r['ours_s'] * 1e3:,.1f} ms | {r['solver']} | {r['residual']:.1e} | "
            f"{products(r.get('products'))} | "
            f"{r['build_rss_mb']:,.0f} MB | {fmt(r['rss_mb'], ',.0f')} MB | {r['traced_mb']:,.0f} MB | "
            f"{fmt(numpy_s and numpy_s * 1e3, ',.1f')}{'' if numpy_s is None else ' ms'} | "
            f"{fmt(numpy_s and numpy_s / r['ours_s'], ',.0f')}{'' if numpy_s is None else '×'} |")
    return "\n".join(lines)


def batch_rows(shapes=((10, 3, 1000), (50, 4, 1000), (80, 4, 500), (200, 4, 200)), repeats: int = 3) -> list[dict]:
    """:func:`tabular_pg.exact.batch.evaluate_batch` against a Python loop of ``evaluate`` calls.

    Garnets with 3 successors, gamma = 0.99; policies softmax(N(0, 1)) with the benchmark seed.
    """
    from tabular_pg.exact.batch import evaluate_batch

    rows = []
    for S, A, B in shapes:
        mdp = mdps.garnet(S, A, 3, seed=SEED, gamma=0.99)
        pis = tpg.policies.softmax(np.random.default_rng(SEED).normal(size=(B, S, A)))
        t_batch, out = best_time(lambda mdp=mdp, pis=pis: evaluate_batch(mdp, pis), repeats)
        t_loop, J = best_time(lambda mdp=mdp, pis=pis: np.array([tpg.evaluate(mdp, pi).J for pi in pis]), repeats)
        rows.append({"S": S, "A": A, "B": B, "batch_s": t_batch, "loop_s": t_loop, "solver": out.solver,
                     "max_dJ": float(np.abs(out.J - J).max() / np.abs(J).max())})
    return rows


def batch_table(rows: list[dict]) -> str:
    lines = ["| S | A | policies B | evaluate_batch | its path | loop of evaluate | speed-up | max rel. diff of J |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['S']} | {r['A']} | {r['B']:,} | {r['batch_s'] * 1e3:,.1f} ms | {r['solver']} | "
              f"{r['loop_s'] * 1e3:,.1f} ms | "
              f"{r['loop_s'] / r['batch_s']:.1f}× | {r['max_dJ']:.1e} |" for r in rows]
    return "\n".join(lines)


def table_or_error(rows, make_table) -> str:
    """``make_table(rows)``, or the child's error when it failed."""
    return make_table(rows) if isinstance(rows, list) else f"not measured: {rows['error']}"


def scaling_rows(kinds, sizes, repeats: int = 3, progress: bool = True) -> list[dict]:
    rows = []
    for kind in kinds:
        for S in sizes:
            rows.append(run_child(kind, S, repeats if S < 10**6 else 2))
            if progress:
                print(f"  {kind} S={S:,}: {rows[-1].get('ours_s', rows[-1].get('error'))}", file=sys.stderr)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("KIND", "S"), help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default=",".join(f"{s:.0e}" for s in SIZES))
    ap.add_argument("--kinds", default="garnet,grid")
    ap.add_argument("--blas-threads", type=int, default=BLAS_THREADS)
    ap.add_argument("--batch", action="store_true", help="batched evaluation against the loop")
    args = ap.parse_args(argv)
    globals()["BLAS_THREADS"] = args.blas_threads
    if args.child:
        kind = args.child[0]
        print(json.dumps(batch_rows() if kind == "batch" else child(kind, int(float(args.child[1])), args.repeats)))
        return
    if args.batch:
        print(machine())
        print(table_or_error(run_child("batch", 0, args.repeats), batch_table))
        return
    print(machine())
    rows = scaling_rows(args.kinds.split(","), [int(float(s)) for s in args.sizes.split(",")], args.repeats)
    print(table(rows))


if __name__ == "__main__":
    main()
