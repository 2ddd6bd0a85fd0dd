"""Sections of the tour beyond the exact quantities (internal): the value polytope,
estimators against the exact gradient, algorithms head to head, the proofs summary.

:func:`available` lists the sections whose modules are installed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tabular_pg.cli.format import num, progress, table
from tabular_pg.exact.gradient import policy_gradient
from tabular_pg.mdp import FiniteMDP
from tabular_pg.cli.plots import slope
from tabular_pg.policies import TabularSoftmax
from tabular_pg.sampled.registry import ESTIMATORS as REGISTRY
from tabular_pg.cli.report import Section, Setting, dadashi_mdp, module_available, require_module, zoo_mdp

__all__ = ["available", "polytope_section", "estimator_rows", "estimators_section", "ESTIMATORS"]

#: Trajectory estimators compared: label, name and options, the ``cli`` settings of
#: :data:`tabular_pg.sampled.registry.ESTIMATORS` in registry order.
ESTIMATORS = tuple((label, name, dict(options)) for name, spec in REGISTRY.items() for label, options in spec.cli)
#: Infinite horizons are truncated where the neglected discounted return is below this,
#: identically for the rollouts and for the exact moments.
TRUNCATION = 1e-4
#: Seed of the rollouts of the estimator comparison.
SEED = 20261122


def polytope_section(setting: Setting, out: Path, show: bool, paths: dict | None = None) -> Section:
    """The value polytope of Dadashi et al.'s two-state MDP, with algorithm paths if given."""
    from tabular_pg.cli import plots
    mdp = dadashi_mdp()
    plots.value_polytope(mdp, out / "value_polytope.png", paths=paths,
                         title="value polytope (Dadashi et al. 2019, Fig. 2d)")
    figure = {"file": "value_polytope.png", "caption": "value polytope with policy paths"}
    text = ("V^pi of random policies of a two-state MDP (Dadashi et al. 2019, Fig. 2d); "
            + (f"paths of {', '.join(paths)} from the same start" if paths else "the squares are the deterministic policies"))
    return Section("Value polytope", [text], f"{text}.\n\n![{figure['caption']}]({figure['file']})",
                   {"paths": sorted(paths or {})}, [figure])


def estimator_rows(mdp: FiniteMDP, ns, seeds: int, show: bool, rng: np.random.Generator) -> dict:
    """Each estimator at the uniform policy: exact bias and covariance (moments DP) against
    ``seeds`` independent means of ``n`` sampled estimates for each ``n`` in ``ns``, all
    from one batch of rollouts.

    The exact root-mean-square error of a mean of ``n`` is
    :math:`\\sqrt{\\mathrm{tr}\\,\\mathrm{Cov}/n + \\|\\mathrm{bias}\\|^2}`; the sampled one is
    measured over the ``seeds`` means.
    """
    from tabular_pg.sampled.registry import estimate
    from tabular_pg.sampled.registry import estimator_moments
    from tabular_pg.sampled.rollout import rollout
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = policy.initial()
    g = policy_gradient(mdp, policy, theta)
    traj = rollout(mdp, policy.probs(theta), max(ns) * seeds, rng, tol=TRUNCATION)
    rows = []
    for label, name, options in progress(ESTIMATORS, show, desc="estimators"):
        mean, cov = estimator_moments(mdp, policy, theta, name, tol=TRUNCATION, **options)
        per = estimate(traj, policy, theta, name, mdp=mdp, per_trajectory=True, **options)
        bias, trace = float(np.linalg.norm(mean - g)), float(np.trace(cov))
        row = {"estimator": label, "bias": bias, "trace_cov": trace, "rmse_exact": [], "rmse_sampled": [],
               "cosine_median": []}
        for n in ns:
            means = per[:n * seeds].reshape(seeds, n, -1).mean(axis=1)
            row["rmse_exact"].append(float(np.sqrt(trace / n + bias ** 2)))
            row["rmse_sampled"].append(float(np.sqrt(np.mean(np.sum((means - g) ** 2, axis=1)))))
            norms = np.linalg.norm(means, axis=1) * np.linalg.norm(g)
            row["cosine_median"].append(float(np.median(np.where(norms > 0, means @ g / np.maximum(norms, 1e-300), 0))))
        rows.append(row)
    return {"gradient_norm": float(np.linalg.norm(g)), "n": list(ns), "seeds": seeds, "rows": rows}


ESTIMATOR_HEADERS = ["estimator", "|bias|", "tr Cov / n", "RMSE exact", "RMSE sampled", "median cos"]


def _estimator_table(result: dict, k: int = -1) -> list:
    """The table at the ``k``-th sample size."""
    n = result["n"][k]
    return table(ESTIMATOR_HEADERS, [[r["estimator"], r["bias"], r["trace_cov"] / n, r["rmse_exact"][k],
                                      r["rmse_sampled"][k], r["cosine_median"][k]] for r in result["rows"]])


def _estimator_head(spec: str, mdp: FiniteMDP, result: dict, k: int = -1) -> str:
    return (f"{spec}: uniform policy, |grad J| = {num(result['gradient_norm'])}; exact moments vs "
            f"{result['seeds']} means of n = {result['n'][k]} sampled estimates (seed {SEED}"
            + (f", truncation {TRUNCATION:g})" if mdp.horizon is None else ")"))


def estimators_command(args) -> dict:
    """``tabular-pg estimators MDP [--n N] [--seeds K]`` at the uniform policy."""
    from tabular_pg.cli.commands import resolve_mdp
    mdp = resolve_mdp(args.mdp).mdp
    result = estimator_rows(mdp, (args.n,), args.seeds, args.progress, np.random.default_rng(SEED))
    return {"text": _estimator_head(args.mdp, mdp, result) + "\n" + _estimator_table(result),
            "data": {"mdp": args.mdp, **result}}


def _variance_growth(setting: Setting, base: FiniteMDP) -> dict:
    """tr Cov of one estimate against H on the garnet's dynamics with gamma = 1, horizon H."""
    from tabular_pg.sampled.registry import estimator_moments
    policy = TabularSoftmax(base.n_states, base.n_actions)
    growth = {}
    for label, name, options in ESTIMATORS[:3] + ESTIMATORS[5:6]:
        growth[label] = [float(np.trace(estimator_moments(FiniteMDP(base.P, base.R, base.mu, gamma=1.0, horizon=H),
                                                          policy, policy.initial(), name, **options)[1]))
                         for H in setting.horizons]
    return growth


def estimators_section(setting: Setting, out: Path, show: bool) -> Section:
    """Estimators vs exact on the chain and the garnet; error vs n; variance vs H."""
    lines, md, data, figures = [], [], {}, []
    for spec in (setting.chain, setting.garnet):
        mdp = zoo_mdp(spec)
        result = estimator_rows(mdp, setting.n_values, setting.seeds, show, np.random.default_rng(SEED))
        lines += [_estimator_head(spec, mdp, result), _estimator_table(result)]
        md += [f"**{_estimator_head(spec, mdp, result)}**", "", "```", _estimator_table(result), "```", ""]
        data[spec] = result
    chain = zoo_mdp(setting.chain)
    H, A, total = chain.horizon, chain.n_actions, max(setting.n_values) * setting.seeds
    lines.insert(2, f"chain: P(no sampled trajectory sees the reward) = (1 - {A}^-{H})^{total} = "
                    f"{num((1 - float(A) ** -H) ** total, 3)}; then every sampled gradient is 0 and "
                    "the sampled RMSE is |grad J|, far below the exact RMSE that rare successes carry")
    growth = _variance_growth(setting, mdp)
    slopes = {k: slope(setting.horizons, v) for k, v in growth.items()}
    lines.append("variance growth with H (garnet dynamics, gamma = 1): tr Cov ~ H^k, k = "
                 + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))
    data["variance_vs_H"] = {"H": list(setting.horizons), "trace_cov": growth, "slopes": slopes}
    if module_available("matplotlib"):
        figures = _estimator_figures(setting, out, data[setting.garnet], growth)
    md += [lines[-1], ""] + [f"![{f['caption']}]({f['file']})" for f in figures]
    return Section("Estimators vs exact", lines, "\n".join(md), data, figures)


def _estimator_figures(setting: Setting, out: Path, result: dict, growth: dict) -> list:
    from tabular_pg.cli import plots
    rows = result["rows"]
    n = np.asarray(setting.n_values, dtype=float)
    plots.estimator_errors(n, {r["estimator"]: r["rmse_sampled"] for r in rows},
                           {r["estimator"]: r["trace_cov"] / n for r in rows}, out / "estimator_errors.png",
                           exact_errors={r["estimator"]: r["rmse_exact"] for r in rows},
                           title=f"{setting.garnet}, uniform policy: sampled vs exact")
    plots.variance_vs_horizon(setting.horizons, growth, out / "variance_vs_horizon.png",
                              title="tr Cov of one estimate vs H (garnet dynamics, gamma = 1)")
    return [{"file": "estimator_errors.png", "caption": "estimator error vs n"},
            {"file": "variance_vs_horizon.png", "caption": "variance vs horizon"}]


# ------------------------------------------------------------------------------- proofs
def _proofs():
    return require_module("proofs", "check_all", "the proofs need the proofs package (sympy checks of the "
                          "lectures), which this installation lacks")


def _proofs_or_none():
    try:
        return _proofs()
    except ValueError:
        return None


def run_proofs(errata: bool = False, claims=None) -> list:
    """Verdicts of every claim (or of the ``claims`` ids); only the non-holding with ``errata``."""
    proofs = _proofs()
    if not claims:
        return proofs.check_all(errata_only=errata)
    known = [c.id for c in proofs.CLAIMS]
    unknown = [c for c in claims if c not in known]
    if unknown:
        raise ValueError(f"--claim {unknown[0]!r} is not a claim id; known ids start with "
                         f"{sorted({k.split('.')[0] for k in known})} (e.g. {known[0]!r})")
    return [v for v in (proofs.check(c) for c in claims) if not (errata and v.holds)]


def _verdict_counts(verdicts) -> dict:
    kinds = [v.kind for v in verdicts]
    return {"claims": len(verdicts), **{k: kinds.count(k) for k in sorted(set(kinds))},
            "unexpected": [v.claim_id for v in verdicts if not v.as_expected]}


def proofs_command(args) -> dict:
    """``tabular-pg proofs [--errata] [--claim ID ...]``; exit status 1 if a verdict is not the registered one."""
    verdicts = run_proofs(args.errata, args.claim)
    counts = _verdict_counts(verdicts)
    text = _proofs().report(verdicts)
    if counts["unexpected"]:
        text += "\nUNEXPECTED VERDICTS: " + ", ".join(counts["unexpected"])
    data = {"summary": counts, "verdicts": [dict(vars(v), as_expected=v.as_expected) for v in verdicts]}
    return {"text": text, "data": data, "status": 1 if counts["unexpected"] else 0}


#: How the tour names the verdict kinds in its summary.
KIND_WORDS = {"holds": "hold", "erratum": "errata", "justification": "right conclusions with a wrong justification"}


def proof_verdicts(setting: Setting) -> list:
    """The verdicts the tour shows: every claim, or the first ``setting.proof_claims``."""
    proofs = _proofs()
    claims = None if setting.proof_claims is None else [c.id for c in proofs.CLAIMS[:setting.proof_claims]]
    return run_proofs(claims=claims)


def proofs_section(setting: Setting, out: Path, show: bool, prefetched: list | None = None) -> Section:
    """Counts of the verdicts and the errata of the lectures, with their corrections."""
    verdicts = proof_verdicts(setting) if prefetched is None else prefetched
    counts = _verdict_counts(verdicts)
    of_all = "" if setting.proof_claims is None else f" (the first {counts['claims']} of {len(_proofs().CLAIMS)})"
    head = (f"{counts['claims']} claims{of_all} checked with sympy: "
            + ", ".join(f"{v} {KIND_WORDS.get(k, k)}" for k, v in counts.items() if k not in ("claims", "unexpected"))
            + (f"; NOT AS REGISTERED: {', '.join(counts['unexpected'])}" if counts["unexpected"] else ""))
    errata = [v for v in verdicts if not v.holds]
    lines = [head] + [f"[{v.claim_id}] {v.kind}: {v.correction}" for v in errata]
    md = [head, ""] + [f"- **{v.claim_id}** ({v.kind}, {v.source}): {v.statement}  \n"
                       f"  counterexample: {v.counterexample}  \n  correction: {v.correction}" for v in errata]
    return Section("Proofs", lines, "\n".join(md), {"summary": counts})


proofs_section.prefetch = proof_verdicts


def available() -> list:
    """``(name, section)`` pairs of the sections whose modules are installed."""
    sections = []
    from tabular_pg.cli.train import algorithms_section
    sections.append(("estimators", estimators_section))
    sections.append(("algorithms", algorithms_section))    # draws the polytope with paths
    if _proofs_or_none() is not None:
        sections.append(("proofs", proofs_section))
    return sections
