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

from tabular_pg.cli import beyond
from tabular_pg.cli.format import markdown_table, num, table
from tabular_pg.cli.sections import SECTIONS, SMALL, TRUNCATION, SectionResult, Setting
from tabular_pg.cli.specs import SEED, dadashi_mdp
from tabular_pg.io.output import prepare_folder, record_folder, write_atomically
from tabular_pg.progress import progress

# dadashi_mdp is imported for its users' sake (tests/test_plots.py takes it from here).
__all__ = ["RENDERERS", "render", "estimator_head", "estimator_table", "coincidence_notes", "horizon_text",
           "seconds", "correction_text", "chain_explanation", "tour", "dadashi_mdp", "WHY_THE_SAME", "FIGURE_KEYS"]

ESTIMATOR_HEADERS = ["estimator", "|bias|", "tr Cov / n", "RMSE exact", "RMSE sampled", "median cos"]
#: How the tour names the verdict kinds in its summary.
KIND_WORDS = {"holds": "hold", "erratum": "errata", "justification": "right conclusions with a wrong justification"}


GRID_EXPLAINED = (
    "Sutton & Barto's 5x5 gridworld (Example 3.5, gamma = 0.9), solved exactly: colour and numbers are "
    "V*(s); arrows are every optimal action (the maximisers of Q*(s, .), so a cell with two tied optimal "
    "actions shows two arrows); rows and columns are numbered from the top left. Every action in A "
    "(row 0, column 1) jumps to A' (row 4, column 1) with reward +10, in B (row 0, column 3) to B' "
    "(row 2, column 3) with +5; moving off the grid costs 1. Hence the arrows that lead to A.")
ESTIMATOR_FIGURE_EXPLAINED = (
    "Left: RMSE of the mean of n estimates; hollow markers joined by a line: measured over the seeds "
    "(sampled); thin line of the same colour: exact sqrt(tr Cov/n + |bias|^2). Right: exact tr Cov / n. "
    "Each estimator has its own marker (larger ones drawn first), so estimators whose curves coincide "
    "all show; the legend marks such an estimator '(= other)'.")
HORIZON_FIGURE_EXPLAINED = ("Markers: exact tr Cov of one estimate at each horizon H; lines: the fitted "
                            "power law c H^k, with k in the legend.")
CURVE_FIGURE_EXPLAINED = (
    "Lines: exact J of each iterate (for sampled runs the mean over seeds, the band from the lowest to the "
    "highest seed); dashed black: J*. The markers only tell the curves apart: they are staggered so that "
    "curves that coincide (every exact run once it reaches J*) all stay visible.")
POLYTOPE_FIGURE_EXPLAINED = (
    "Grey dots: V^pi of random policies; black squares: the deterministic policies (vertices of the "
    "polytope); a coloured line of dots: the iterates of one algorithm from the common start (black x); "
    "the hollow marker of its colour: its last iterate (sizes differ, so paths that end at the same point "
    "all show).")


#: What each figure of the tour shows and what its markers mean, by the start of its file
#: name; report.md prints it under the figure.
FIGURE_KEYS = {"gridworld_values": GRID_EXPLAINED, "estimator_errors": ESTIMATOR_FIGURE_EXPLAINED,
               "variance_vs_horizon": HORIZON_FIGURE_EXPLAINED, "learning_curves": CURVE_FIGURE_EXPLAINED,
               "value_polytope": POLYTOPE_FIGURE_EXPLAINED}


def _links(figures) -> list:
    keys = [next((text for start, text in FIGURE_KEYS.items() if f["file"].startswith(start)), "") for f in figures]
    return [f"![{f['caption']}]({f['file']})" + (f"\n\n{key}\n" if key else "") for f, key in zip(figures, keys)]


def horizon_text(horizon, gamma) -> str:
    """The horizon as a reader wants it.

    Examples
    --------
    >>> horizon_text(None, 0.9), horizon_text(10, 1.0)
    ('infinite (γ = 0.9)', '10')
    """
    return f"infinite (γ = {num(gamma)})" if horizon is None else str(horizon)


def seconds(t: float) -> str:
    """A duration for people: ``0.42 s``, ``12.3 s``, ``2 min 05 s``.

    Examples
    --------
    >>> seconds(0.4213), seconds(12.34), seconds(125.2)
    ('0.42 s', '12.3 s', '2 min 05 s')
    """
    if t < 10:
        return f"{t:.2f} s"
    if t < 60:
        return f"{t:.1f} s"
    minutes, rest = divmod(round(t), 60)
    return f"{minutes} min {rest:02d} s"


def correction_text(correction: str | None) -> str:
    """A correction of the proofs without the checker's evidence (``: simplify -> 0; at 3
    random rational points -> [...]``, ``| simplify -> ...``): the statement only.

    Examples
    --------
    >>> correction_text("KL = |m|^2/(2 s^2): simplify -> 0; at 3 random rational points -> [0, 0, 0]")
    'KL = |m|^2/(2 s^2)'
    >>> correction_text("P(hit) = 3^(-H)")
    'P(hit) = 3^(-H)'
    """
    if not correction:
        return "-"
    cut = correction.find(": simplify ->")
    return (correction if cut < 0 else correction[:cut]).rstrip()


def _exact(result: SectionResult, setting: Setting) -> tuple:
    rows = result.data["rows"]
    chain, garnet = rows
    H, A = chain["mdp"]["horizon"], chain["mdp"]["A"]
    headers = ["MDP", "S", "A", "gamma", "H", "J(uniform)", "J*", "|grad J|", "|F+ grad J|", "residual"]
    body = [[r["mdp"]["name"], r["mdp"]["S"], r["mdp"]["A"], r["mdp"]["gamma"],
             horizon_text(r["mdp"]["horizon"], r["mdp"]["gamma"]),
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


def estimator_head(spec: str, result: dict, truncated: bool, k: int = -1, policy: str = "uniform") -> str:
    """The line above :func:`estimator_table` (``truncated``: an infinite-horizon MDP)."""
    return (f"{spec}: {policy} policy, |grad J| = {num(result['gradient_norm'])}; exact moments vs "
            f"{result['seeds']} means of n = {result['n'][k]} sampled estimates (seed {SEED}"
            + (f", truncation {TRUNCATION:g}{_steps(result)})" if truncated else ")"))


def _steps(result: dict) -> str:
    steps = result.get("truncation_steps")
    return "" if steps is None else f" after {steps} steps"


#: Why two rows of the estimator table can have the same exact moments.
WHY_THE_SAME = {
    ("REINFORCE", "REINFORCE reward-to-go"):
        "every trajectory earns its rewards only at its last step (the chain's end, an episode's goal), so no "
        "score is weighted by an earlier reward and dropping the past rewards changes nothing",
    ("rtg - V baseline", "rtg - optimal baseline"):
        "the variance-minimising baseline b*(s) = E[|psi|^2 G | s] / E[|psi|^2 | s] is V(s) when the score "
        "norm |grad log pi(a|s)|^2 is the same for every action, as at the uniform policy "
        "(tabular-pg estimators MDP --policy random shows them apart)",
}


def coincidence_notes(result: dict) -> list:
    """One line per pair of estimators whose exact bias and variance agree (1e-9 relative),
    with the reason (:data:`WHY_THE_SAME`) when it is a known one."""
    rows, notes = result["rows"], []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            same = all(abs(a[k] - b[k]) <= 1e-9 * max(abs(a[k]), abs(b[k])) + 1e-15 * (1 + result["gradient_norm"])
                       for k in ("bias", "trace_cov"))
            if same:
                why = WHY_THE_SAME.get((a["estimator"], b["estimator"]), "their exact moments agree at this policy")
                notes.append(f"'{a['estimator']}' and '{b['estimator']}' coincide: {why}.")
    return notes


def chain_explanation(H: int, A: int, total: int) -> str:
    """Why the chain's sampled RMSE is below its exact RMSE ("Policy Gradient (continued)",
    the exploration chain: a uniform walk reaches the reward with probability A^-H)."""
    return (f"chain: P(no sampled trajectory sees the reward) = (1 - {A}^-{H})^{total} = "
            f"{num((1 - float(A) ** -H) ** total, 3)}; then every sampled gradient is 0 and the sampled RMSE "
            "is |grad J|, far below the exact RMSE that the rare successes carry: 'RMSE sampled < RMSE exact' "
            "here is the exploration problem, not a bug")


def _estimators(result: SectionResult, setting: Setting) -> tuple:
    lines, md, facts = [], [], result.facts
    for spec in (setting.chain, setting.garnet):
        head = estimator_head(spec, result.data[spec], facts["truncated"][spec])
        body = estimator_table(result.data[spec])
        notes = coincidence_notes(result.data[spec])
        lines += [head, body, *notes]
        md += [f"**{head}**", "", "```", body, "```", ""] + [f"- {n}" for n in notes] + ([""] if notes else [])
        if spec == setting.chain:
            chain = chain_explanation(facts["chain_H"], facts["chain_A"], facts["trajectories"])
            lines.append(chain)
            md += [chain, ""]
    slopes = result.data["variance_vs_H"]["slopes"]
    lines.append("variance growth with H (garnet dynamics, gamma = 1): tr Cov ~ H^k, k = "
                 + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))
    md += [lines[-1], ""] + _links(result.figures)
    return lines, "\n".join(md)


def _polytope(result: SectionResult) -> tuple:
    paths = result.facts["labels"]
    text = ("V^pi of random policies of a two-state MDP (Dadashi et al. 2019, Fig. 2d); "
            + (f"paths of {', '.join(paths)} from the same start" if paths
               else "the squares are the deterministic policies"))
    return [text], f"{text}.\n\n" + "\n".join(_links(result.figures))


#: What the learning curves of the tour show, printed beside them.
CURVES_EXPLAINED = (
    "Each curve is the exact J of every iterate (computed by linear algebra, whatever the oracle), "
    "against the iteration; the dashed line is J*. 'exact' runs ask an ExactOracle: the algorithm as "
    "the theory states it, with the true gradient, Fisher, Q or surrogate. 'sampled' runs ask a "
    "SampledOracle for answers estimated from n trajectories per iteration, with every algorithm's "
    "class defaults (PPO: GAE advantages from a fitted tabular critic, normalised, Adam; NPG: Kakade's "
    "Fisher at the sampled states, damping, a realised-KL line search; CPI: unsampled actions unknown); "
    "the line is the mean over seeds and the band their range. "
    "The gap between a sampled curve and its exact curve is the price "
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
    lines = [head] + [f"[{v.claim_id}] {v.kind}: {correction_text(v.correction)}" for v in errata]
    md = [head, ""] + [f"- **{v.claim_id}** ({v.kind}, {v.source}): {v.statement}  \n"
                       f"  counterexample: {v.counterexample}  \n  correction: {correction_text(v.correction)}"
                       for v in errata]
    return lines, "\n".join(md)


#: Section name -> ``render(result, setting) -> (printed lines, Markdown)``.
RENDERERS = {"exact": _exact, "estimators": _estimators, "algorithms": _algorithms, "proofs": _proofs,
             "beyond": lambda result, setting: beyond.render(result.data)}


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
    parts = ", ".join(f"{k} {seconds(v)}" for k, v in timings.items() if k != "total")
    note = "; the proofs ran in the background" if early else ""
    lines += [f"report: {report}", f"figures: {', '.join(figures) if figures else 'none (needs matplotlib)'}",
              f"time: {seconds(timings['total'])} ({parts}{note})"]
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
    tail = ["## Timings", "", markdown_table(["section", "wall time"], [[k, seconds(v)] for k, v in timings.items()])]
    return "\n".join(head + body + tail) + "\n"
