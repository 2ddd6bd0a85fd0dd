"""Benchmark: sample efficiency of the sampled algorithms against the exact optimum and two references.

Run ``python bench/sample_efficiency.py [--quick] [--write]``.  On four MDPs (the tour garnet,
the uniform-reset chain H=8, Sutton & Barto's grid, FrozenLake 4x4) it runs PG, NPG, PPO, CPI
and CEM with their default parameters against ``SampledOracle(mdp, n=50, rng=default_rng(seed))``
for a budget of 10,000 trajectories, seeds 0..4, and reports per algorithm

* trajectories to reach ``0.9 J*`` and ``0.99 J*`` (median over seeds, an unreached seed
  counting as infinite, and how many seeds reached it), from ``History.trajectories_to``;
* the final exact ``J`` (median and minimum over seeds) and the warnings the runs raised;
* the exact-oracle iterations to the same levels (``ExactOracle``, at most 1,000 iterations);
* for PPO and NPG the ratio library / reference of the trajectories to ``0.9 J*``, the
  references being the independent CleanRL-style PPO and TRPO-style NPG of
  ``bench/reference_pg.py``, which are run beside them.

It prints a markdown table (``--write``: stored as a section of ``bench/RESULTS.md``) and
saves ``bench/sample_efficiency.png``: exact J against trajectories, median and min-max band
over seeds, one panel per MDP, one line per algorithm.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from reference_pg import run_reference  # noqa: E402

import mdps  # noqa: E402
import tabular_pg as tpg  # noqa: E402
from tabular_pg.algorithms import CEM, PPO, ConservativePolicyIteration, NaturalPolicyGradient, PolicyGradient, run  # noqa: E402
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle  # noqa: E402

RESULTS, FIGURE = HERE / "RESULTS.md", HERE / "sample_efficiency.png"
SECTION = "## 6. Sample efficiency of the sampled algorithms (`bench/sample_efficiency.py`)"
N, LEVELS, ALGORITHM_SEED_OFFSET = 50, (0.9, 0.99), 10_000
FULL = dict(seeds=range(5), budget=10_000, exact_iterations=1000)
QUICK = dict(seeds=range(2), budget=1000, exact_iterations=100)
ALGORITHMS = {"PG": PolicyGradient, "NPG": NaturalPolicyGradient, "PPO": PPO,
              "CPI": ConservativePolicyIteration, "CEM": CEM}
REFERENCES = ("PPO", "NPG")


def benchmark_mdps() -> dict:
    """The issue's four MDPs, by name."""
    import gymnasium

    from tabular_pg.io import from_gymnasium
    return {"garnet": mdps.from_spec("garnet:S=10,A=3,b=3,seed=0,gamma=0.9"),
            "chain H=8 (uniform reset)": mdps.chain(H=8, reset="uniform"),
            "Sutton-Barto grid": mdps.sutton_barto_grid(),
            "FrozenLake 4x4": from_gymnasium(gymnasium.make("FrozenLake-v1"), gamma=0.99)}


def make_algorithm(name: str):
    """``(algorithm, note)``: the class with its defaults, as a user would write it."""
    return ALGORITHMS[name](), ""


def make_policy(name: str, mdp):
    """Tabular softmax; CPI mixes probabilities, so it gets the direct parametrisation."""
    cls = tpg.Direct if name == "CPI" else tpg.TabularSoftmax
    return cls(mdp.n_states, mdp.n_actions)


@dataclass(frozen=True)
class Curve:
    """One run: exact ``J`` of each iterate against the trajectories used before it; ``error``
    when the run raised; ``warnings`` the number of warnings it emitted."""

    J: np.ndarray
    trajectories: np.ndarray
    error: str = ""
    warnings: int = 0

    def trajectories_to(self, level: float) -> float:
        hit = np.flatnonzero(self.J >= level)
        return float(self.trajectories[hit[0]]) if hit.size else np.inf

    def J_at(self, grid: np.ndarray) -> np.ndarray:
        """Step interpolation: the J of the last iterate reached with at most ``grid`` trajectories."""
        return self.J[np.searchsorted(self.trajectories, grid, side="right") - 1]


def _caught(fn):
    """``(result, error text, number of warnings)`` of ``fn()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn(), "", len(caught)
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as err:
            return None, f"{type(err).__name__}: {err}", len(caught)


def _iterations_for(algo, policy, mdp, budget: int, rng_seed: int) -> int:
    """Updates that fit the budget, from the trajectories one update costs (a throwaway oracle)."""
    oracle = SampledOracle(mdp, N, rng=np.random.default_rng(rng_seed))
    algo.update(policy, policy.initial(), oracle, algo.start(policy, policy.initial()),
                np.random.default_rng(rng_seed))
    return max(1, budget // max(oracle.cost.trajectories, 1))


def sampled_curve(name: str, mdp, seed: int, budget: int) -> Curve:
    """``run`` of the default algorithm on ``SampledOracle(mdp, n=50)``, cut at ``budget`` trajectories."""
    algo, policy = make_algorithm(name)[0], make_policy(name, mdp)

    def go():
        iterations = _iterations_for(algo, policy, mdp, budget, 2 ** 31 - 1 - seed)
        oracle = SampledOracle(mdp, N, rng=np.random.default_rng(seed))
        return run(algo, mdp, policy, policy.initial(), oracle, iterations,
                   rng=np.random.default_rng(ALGORITHM_SEED_OFFSET + seed), progress=False)
    hist, error, n_warn = _caught(go)
    if hist is None:
        return Curve(np.array([np.nan]), np.array([0]), error, n_warn)
    keep = hist.trajectories <= budget
    return Curve(hist.J[keep], hist.trajectories[keep], "", n_warn)


def reference_curve(kind: str, mdp, seed: int, budget: int) -> Curve:
    """The independent reference ``kind`` (``bench/reference_pg.py``), ``n = 50``."""
    hist, error, n_warn = _caught(lambda: run_reference(kind, mdp, np.random.default_rng(seed), N, budget))
    if hist is None:
        return Curve(np.array([np.nan]), np.array([0]), error, n_warn)
    return Curve(hist.J, hist.trajectories, "", n_warn)


def exact_iterations(name: str, mdp, J_star: float, iterations: int) -> list:
    """Exact-oracle iterations to each level of :data:`LEVELS` (None: not within ``iterations``)."""
    algo, policy = make_algorithm(name)[0], make_policy(name, mdp)
    hist, error, _ = _caught(lambda: run(algo, mdp, policy, policy.initial(), ExactOracle(mdp), iterations,
                                         rng=np.random.default_rng(ALGORITHM_SEED_OFFSET),
                                         target=LEVELS[-1] * J_star, progress=False))
    if hist is None:
        return [error] * len(LEVELS)
    return [hist.first_reaching(f * J_star) for f in LEVELS]


def median_to(curves, level: float) -> tuple[float, int]:
    """Median over seeds of the trajectories to ``level`` (unreached = inf) and how many reached it."""
    to = np.array([c.trajectories_to(level) for c in curves])
    return float(np.median(to)), int(np.isfinite(to).sum())


def benchmark(cfg: dict, log=print) -> dict:
    """Every curve and exact-oracle count: ``{mdp: {"J*": .., "rows": {label: {...}}}}``."""
    out = {}
    for mdp_name, mdp in benchmark_mdps().items():
        J_star, rows = tpg.optimum(mdp).J, {}
        for name in ALGORITHMS:
            t0 = time.perf_counter()
            curves = [sampled_curve(name, mdp, s, cfg["budget"]) for s in cfg["seeds"]]
            rows[name] = dict(curves=curves, note=make_algorithm(name)[1],
                              exact=exact_iterations(name, mdp, J_star, cfg["exact_iterations"]))
            log(f"  {mdp_name}: {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for kind in REFERENCES:
            t0 = time.perf_counter()
            curves = [reference_curve(kind, mdp, s, cfg["budget"]) for s in cfg["seeds"]]
            rows[f"reference {kind}"] = dict(curves=curves, note="", exact=None)
            log(f"  {mdp_name}: reference {kind} done in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr, flush=True)
        out[mdp_name] = {"J*": J_star, "rows": rows}
    return out


# ----------------------------------------------------------------------------- report
def _fmt_to(curves, level: float) -> str:
    med, hits = median_to(curves, level)
    return f"{'—' if not np.isfinite(med) else f'{med:,.0f}'} ({hits}/{len(curves)})"


def _fmt_exact(exact, i: int) -> str:
    if exact is None:
        return ""
    x = exact[i]
    return "—" if x is None else (str(x) if isinstance(x, int) else "error")


def _row(label: str, row: dict, J_star: float, ref: dict | None) -> str:
    curves = row["curves"]
    finals = np.array([c.J[-1] for c in curves])
    ratio = ""
    if ref is not None:
        ours, theirs = (median_to(r["curves"], LEVELS[0] * J_star)[0] for r in (row, ref))
        ratio = f"{ours / theirs:.2f}" if np.isfinite(ours) and np.isfinite(theirs) else "—"
    errors = sorted({c.error for c in curves if c.error})
    notes = "; ".join([row["note"]] * bool(row["note"]) + errors)
    final = "—" if np.isnan(finals).all() else f"{np.nanmedian(finals):.4g} (min {np.nanmin(finals):.4g})"
    return (f"| {label} | {_fmt_to(curves, LEVELS[0] * J_star)} | {_fmt_to(curves, LEVELS[1] * J_star)} | "
            f"{final} | {_fmt_exact(row['exact'], 0)} | {_fmt_exact(row['exact'], 1)} | {ratio} | "
            f"{sum(c.warnings for c in curves)} | {notes} |")


def table(results: dict) -> str:
    """The markdown table of :func:`benchmark`'s results, one block of rows per MDP."""
    lines = ["| MDP (J*) / algorithm | trajectories to 0.9 J* (seeds) | to 0.99 J* (seeds) | final J (min) | "
             "exact-oracle iterations to 0.9 J* | to 0.99 J* | library / reference to 0.9 J* | warnings | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for mdp_name, res in results.items():
        J_star, rows = res["J*"], res["rows"]
        lines.append(f"| **{mdp_name}** (J* = {J_star:.5g}) | | | | | | | | |")
        for label, row in rows.items():
            lines.append(_row(label, row, J_star, rows.get(f"reference {label}")))
    return "\n".join(lines)


def environment(cfg: dict) -> str:
    """Seeds, versions and the machine."""
    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    seeds = list(cfg["seeds"])
    return "\n".join([
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; python {platform.python_version()}",
        f"Versions: numpy {np.__version__}, tabular_pg {tpg.__version__} (commit {commit})",
        f"Seeds {seeds}: oracle / reference `default_rng(seed)`, algorithm `default_rng({ALGORITHM_SEED_OFFSET} + "
        f"seed)`; n = {N} trajectories per query; budget {cfg['budget']:,} trajectories per run; "
        f"exact oracle at most {cfg['exact_iterations']:,} iterations "
        f"(algorithm `default_rng({ALGORITHM_SEED_OFFSET})`)."])


def figure(results: dict, budget: int, path: Path) -> None:
    """Exact J against trajectories: median and min-max band over seeds, a panel per MDP."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    grid = np.arange(0, budget + 1, N)
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for ax, (mdp_name, res) in zip(axes[0], results.items()):
        for i, (label, row) in enumerate(res["rows"].items()):
            curves = [c for c in row["curves"] if not c.error]
            if not curves:
                continue
            Js = np.array([c.J_at(grid) for c in curves])
            style = "--" if label.startswith("reference") else "-"
            line, = ax.plot(grid, np.median(Js, axis=0), style, label=label, color=f"C{i}")
            ax.fill_between(grid, Js.min(axis=0), Js.max(axis=0), color=line.get_color(), alpha=0.15)
        for f in LEVELS:
            ax.axhline(f * res["J*"], color="k", lw=0.6, ls=":")
        ax.set(title=f"{mdp_name} (J* = {res['J*']:.4g})", xlabel="trajectories", ylabel="exact J")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace (or append) :data:`SECTION` in ``path``; the other sections are kept."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("" if end < 0 else old[end:])
    path.write_text(new.rstrip("\n") + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds, 1,000 trajectories: a smoke test")
    ap.add_argument("--write", action="store_true", help=f"store the table in {RESULTS.name}")
    ap.add_argument("--figure", type=Path, default=FIGURE, help="where to save the figure")
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    t0, cpu0 = time.perf_counter(), time.process_time()
    results = benchmark(cfg)
    figure(results, cfg["budget"], args.figure)
    text = "\n\n".join([SECTION, f"Written by `python bench/sample_efficiency.py{' --quick' * args.quick} --write`; "
                        f"the run took {time.perf_counter() - t0:.0f} s "
                        f"({time.process_time() - cpu0:.0f} s of CPU time).", environment(cfg),
                        "Trajectories: median over seeds (an unreached seed counts as infinite; — when the "
                        "median is not reached) and, in brackets, the seeds that reached the level. Final J: "
                        "exact J of the last iterate within the budget. References: `bench/reference_pg.py` "
                        "(independent CleanRL-style PPO, TRPO-style NPG). Figure: `bench/sample_efficiency.png`.",
                        table(results)])
    if args.write:
        write_section(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
