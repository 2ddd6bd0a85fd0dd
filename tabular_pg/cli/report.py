"""The tour of ``tabular-pg tour`` and the text of every section (internal).

:func:`tour` computes the sections of :data:`tabular_pg.cli.sections.SECTIONS`, renders
each one (:data:`RENDERERS`: printed lines and Markdown), writes ``report.md`` beside the
PNG figures and returns the printed summary.  This is the one module that turns section
results into text.
"""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tabular_pg.cli.format import markdown_table, num, table
from tabular_pg.cli.sections import SECTIONS, SMALL, TRUNCATION, SectionResult, Setting
from tabular_pg.cli.specs import SEED, dadashi_mdp
from tabular_pg.io.output import prepare_folder, record_folder, write_atomically
from tabular_pg.progress import progress

# dadashi_mdp is imported for its users' sake (tests/test_plots.py takes it from here).
__all__ = ["RENDERERS", "render", "estimator_head", "estimator_table", "tour", "dadashi_mdp"]

ESTIMATOR_HEADERS = ["estimator", "|bias|", "tr Cov / n", "RMSE exact", "RMSE sampled", "median cos"]
#: How the tour names the verdict kinds in its summary.
KIND_WORDS = {"holds": "hold", "erratum": "errata", "justification": "right conclusions with a wrong justification"}


def _links(figures) -> list:
    return [f"![{f['caption']}]({f['file']})" for f in figures]


def _exact(result: SectionResult, setting: Setting) -> tuple:
    rows = result.data["rows"]
    chain, garnet = rows
    H, A = chain["mdp"]["horizon"], chain["mdp"]["A"]
    headers = ["MDP", "S", "A", "gamma", "H", "J(uniform)", "J*", "|grad J|", "|F+ grad J|", "residual"]
    body = [[r["mdp"]["name"], r["mdp"]["S"], r["mdp"]["A"], r["mdp"]["gamma"], str(r["mdp"]["horizon"]),
             r["J_uniform"], r["J_star"], r["gradient_norm"], r["natural_gradient_norm"], r["residual"]]
            for r in rows]
    identity = (f"chain: J(uniform) = {num(chain['J_uniform'], 10)} = A^-H = {A}^-{H} = {num(A ** -H, 10)} "
                f"(“Policy Gradient (continued)”: a random walk almost never sees the reward)")
    vline = (f"garnet: V(uniform) in [{num(garnet['V'].min())}, {num(garnet['V'].max())}], "
             f"V* in [{num(garnet['V_star'].min())}, {num(garnet['V_star'].max())}]")
    chain_v = "chain: V_0(s) of the uniform policy = " + ", ".join(num(v, 3) for v in chain["V"])
    md = "\n".join(["Exact evaluation of the uniform policy (softmax at theta = 0) by linear solves / "
                    "recursions, and the optimum by policy iteration / backward induction.", "",
                    markdown_table(headers, body), "", f"- {identity}", f"- {chain_v}", f"- {vline}"]
                   + [f"\n{link}" for link in _links(result.figures)])
    return [table(headers, body), identity, chain_v, vline], md


def estimator_table(result: dict, k: int = -1) -> str:
    """The table of :func:`~tabular_pg.cli.sections.estimator_rows` at the ``k``-th sample size."""
    n = result["n"][k]
    return table(ESTIMATOR_HEADERS, [[r["estimator"], r["bias"], r["trace_cov"] / n, r["rmse_exact"][k],
                                      r["rmse_sampled"][k], r["cosine_median"][k]] for r in result["rows"]])


def estimator_head(spec: str, result: dict, truncated: bool, k: int = -1) -> str:
    """The line above :func:`estimator_table` (``truncated``: an infinite-horizon MDP)."""
    return (f"{spec}: uniform policy, |grad J| = {num(result['gradient_norm'])}; exact moments vs "
            f"{result['seeds']} means of n = {result['n'][k]} sampled estimates (seed {SEED}"
            + (f", truncation {TRUNCATION:g})" if truncated else ")"))


def _estimators(result: SectionResult, setting: Setting) -> tuple:
    lines, md, facts = [], [], result.facts
    for spec in (setting.chain, setting.garnet):
        head, body = estimator_head(spec, result.data[spec], facts["truncated"][spec]), estimator_table(result.data[spec])
        lines += [head, body]
        md += [f"**{head}**", "", "```", body, "```", ""]
    H, A, total = facts["chain_H"], facts["chain_A"], facts["trajectories"]
    lines.insert(2, f"chain: P(no sampled trajectory sees the reward) = (1 - {A}^-{H})^{total} = "
                    f"{num((1 - float(A) ** -H) ** total, 3)}; then every sampled gradient is 0 and "
                    "the sampled RMSE is |grad J|, far below the exact RMSE that rare successes carry")
    slopes = result.data["variance_vs_H"]["slopes"]
    lines.append("variance growth with H (garnet dynamics, gamma = 1): tr Cov ~ H^k, k = "
                 + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))
    md += [lines[-1], ""] + _links(result.figures)
    return lines, "\n".join(md)


def _polytope(result: SectionResult) -> tuple:
    paths = result.facts["labels"]
    text = ("V^pi of random policies of a two-state MDP (Dadashi et al. 2019, Fig. 2d); "
            + (f"paths of {', '.join(paths)} from the same start" if paths else "the squares are the deterministic policies"))
    figure = result.figures[0]
    return [text], f"{text}.\n\n![{figure['caption']}]({figure['file']})"


#: What the learning curves of the tour show, printed beside them.
CURVES_EXPLAINED = (
    "Each curve is the exact J of every iterate (computed by linear algebra, whatever the oracle), "
    "against the iteration; the dashed line is J*. 'exact' runs ask an ExactOracle: the algorithm as "
    "the theory states it, with the true gradient, Fisher, Q or surrogate. 'sampled' runs ask a "
    "SampledOracle for answers estimated from n trajectories per iteration, with every algorithm's "
    "class defaults (PPO: GAE advantages from a fitted tabular critic, normalised, Adam; NPG: Kakade's "
    "Fisher at the sampled states, damping, a realised-KL line search; CPI: unsampled actions unknown); "
    "the line is the mean over seeds and the band their range. The gap between a sampled curve and its exact curve is the price "
    "of estimation; a sampled curve that flattens below J* is an algorithm that stopped learning.")


def _algorithms(result: SectionResult, setting: Setting) -> tuple:
    lines, md, facts = [], [], result.facts
    for spec, sampled in facts["sampled"].items():
        data = result.data[spec]
        headers = ["algo", "exact J_T", "J* - J_T", "t to 90% of gap"] + (
            [f"sampled J_T ({setting.algo_seeds} seeds) [min, max]", "trajectories"] if sampled else [])
        title = f"{spec}: T = {setting.iterations} iterations from the uniform policy, J* = {num(data['J_star'], 8)}"
        not_run = [f"{name} not run with its defaults: {why}" for name, why in facts["not_run"][spec].items()]
        lines += [title, table(headers, data["rows"]), *not_run]
        md += [f"**{title}**", "", markdown_table(headers, data["rows"]), ""] + [f"- {n}" for n in not_run] + (
            [""] if not_run else [])
    used = "algorithms: " + ", ".join(facts["algorithms"]) + f"; sampled oracle: {facts['oracle']}"
    polytope = facts["polytope"]
    curves = result.figures[:len(result.figures) - (polytope is not None)]
    lines += [used, CURVES_EXPLAINED]
    markdown = "\n".join(md + [used, "", CURVES_EXPLAINED, ""] + _links(curves))
    if polytope is not None:
        poly_lines, poly_md = _polytope(polytope)
        lines += poly_lines
        markdown += "\n\n" + poly_md
    return lines, markdown


def _proofs(result: SectionResult, setting: Setting) -> tuple:
    counts, errata = result.data["summary"], result.facts["errata"]
    of_all = f" (the first {counts['claims']} of {result.facts['all_claims']})" if result.facts["subset"] else ""
    head = (f"{counts['claims']} claims{of_all} checked with sympy: "
            + ", ".join(f"{v} {KIND_WORDS.get(k, k)}" for k, v in counts.items() if k not in ("claims", "unexpected"))
            + (f"; NOT AS REGISTERED: {', '.join(counts['unexpected'])}" if counts["unexpected"] else ""))
    lines = [head] + [f"[{v.claim_id}] {v.kind}: {v.correction}" for v in errata]
    md = [head, ""] + [f"- **{v.claim_id}** ({v.kind}, {v.source}): {v.statement}  \n"
                       f"  counterexample: {v.counterexample}  \n  correction: {v.correction}" for v in errata]
    return lines, "\n".join(md)


#: Section name -> ``render(result, setting) -> (printed lines, Markdown)``.
RENDERERS = {"exact": _exact, "estimators": _estimators, "algorithms": _algorithms, "proofs": _proofs}


def render(name: str, result: SectionResult, setting: Setting) -> tuple:
    """The printed lines and the Markdown of the section ``name``'s ``result``."""
    return RENDERERS[name](result, setting)


def tour(args) -> dict:
    """``tabular-pg tour [--out DIR] [--small]``: compute the sections, write report.md.

    A section with a ``prefetch`` (the proofs) starts that work in a background process
    before the first section, so that it overlaps with the others.  The process is
    *spawned*, not forked: forking a process whose other threads may hold locks (imports,
    BLAS) can leave the child deadlocked.
    """
    out = prepare_folder(args.out, "--out", reserved=("report.md",))
    setting = SMALL if args.small else Setting()
    results, timings, begin = [], {}, time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as background:
        early = {s.name: background.submit(s.prefetch, setting) for s in SECTIONS if s.prefetch is not None}
        for section in progress(SECTIONS, desc="tour", enabled=args.progress):
            start = time.perf_counter()
            extra = {"prefetched": early[section.name].result()} if section.name in early else {}
            results.append((section.name, section.compute(setting, out, args.progress, **extra)))
            timings[section.name] = time.perf_counter() - start
    timings["total"] = time.perf_counter() - begin
    rendered = [(r.title, *render(name, r, setting)) for name, r in results]
    report = write_atomically(out / "report.md", lambda f: f.write(_report_markdown(rendered, setting, timings)))
    lines = []
    for title, section_lines, _ in rendered:
        lines += [f"== {title} ==", *section_lines, ""]
    figures = [str(out / f["file"]) for _, r in results for f in r.figures]
    record_folder(out, [report, *figures])
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if k != "total")
    note = "; the proofs ran in the background" if early else ""
    lines += [f"report: {report}", f"figures: {', '.join(figures) if figures else 'none (needs matplotlib)'}",
              f"time: {timings['total']:.1f} s ({parts}{note})"]
    data = {"report": str(report), "figures": figures, "timings": timings,
            "sections": {r.title: r.data for _, r in results}}
    return {"text": "\n".join(lines), "data": data}


def _report_markdown(rendered: list, setting: Setting, timings: dict) -> str:
    head = ["# tabular-pg tour", "",
            f"MDPs: `{setting.chain}` and `{setting.garnet}`. Every J, V, gradient and variance marked exact "
            "is computed by linear algebra, not sampled.", ""]
    body = []
    for title, _, markdown in rendered:
        body += [f"## {title}", "", markdown, ""]
    tail = ["## Timings", "", markdown_table(["section", "seconds"], [[k, v] for k, v in timings.items()])]
    return "\n".join(head + body + tail) + "\n"
