"""The subcommands of ``tabular-pg`` (internal): each takes the parsed arguments and returns
``{"text": str, "data": dict}`` (and optionally ``"status"``), printed by :func:`tabular_pg.cli.main`."""
from __future__ import annotations

import inspect
import sys
from typing import Any

import numpy as np

import mdps
from tabular_pg import io
from tabular_pg.algorithms.guarantees import GUARANTEES, check_guarantee, theorem_setting
from tabular_pg.cli import plots
from tabular_pg.cli.format import num, table
from tabular_pg.cli.report import coincidence_notes, estimator_head, estimator_table, tour
from tabular_pg.cli.sections import estimator_rows, exact_quantities, mdp_summary, run_proofs, verdict_counts
from tabular_pg.cli.specs import SEED, resolve_mdp, resolve_policy
from tabular_pg.cli.train import parse_step, train_once
from tabular_pg.exact.hessian import hessian
from tabular_pg.exact.planning import optimum
from tabular_pg.policies import TabularSoftmax

__all__ = ["solve", "zoo", "estimators", "train", "proofs", "theorems", "COMMANDS"]


# ------------------------------------------------------------------------------- solve
def solve(args) -> dict:
    """``tabular-pg solve MDP [--policy uniform|optimal|FILE]``."""
    named = resolve_mdp(args.mdp)
    mdp = named.mdp
    q = exact_quantities(mdp, lambda opt: resolve_policy(args.policy, mdp, opt.pi))
    ev = q["evaluation"]
    data = {"mdp": mdp_summary(mdp, args.mdp), "policy": args.policy, "J": ev.J, "J_star": q["J_star"],
            "gap": q["J_star"] - ev.J, "gradient_norm": q["gradient_norm"], "residual": ev.residual,
            "solver": ev.solver, "states": named.states, "actions": named.actions,
            "pi": ev.pi, "V": ev.V, "Q": ev.Q, "A": ev.A, "d": ev.d, "hessian": hessian_spectrum(mdp, ev)}
    return {"text": _solve_text(data, named, args.rows), "data": data}


#: Largest number of parameters ``d`` whose dense Hessian ``solve`` forms and diagonalises
#: (``d^2`` floats and an ``O(d^3)`` eigendecomposition: 32 MB at 2,000; measured on a garnet
#: with d = 1,998 on a busy 2-core machine: 4 s for the Hessian, 22 s for ``eigvalsh``).
HESSIAN_MAX_PARAMS = 2000


def hessian_spectrum(mdp, ev) -> dict:
    """Eigenvalues of the Hessian of J for the tabular softmax at :math:`\\theta = \\log\\pi`.

    ``min``, ``max`` and the numbers of ``positive``, ``negative`` and ``zero`` eigenvalues, zero
    meaning :math:`|\\lambda| \\le d\\,\\epsilon \\max|\\lambda|` (``tolerance``, numpy's rank
    cut-off, with :math:`\\max|Q|\\sum_s\\tilde d(s)` as the scale when the eigenvalues are all
    rounding): J is locally concave where none is positive.  Each state adds a zero (a
    constant added to its logits).  ``{"skipped": reason}`` when ``d`` exceeds
    :data:`HESSIAN_MAX_PARAMS`.
    """
    pi = ev.pi
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions, horizon=pi.shape[0] if pi.ndim == 3 else None)
    d = policy.n_params
    if d > HESSIAN_MAX_PARAMS:
        return {"d": d, "skipped": f"d = {d:,} parameters > {HESSIAN_MAX_PARAMS:,}: the dense Hessian and its "
                                   "eigendecomposition are too large here (use tabular_pg.hessian_vector_product)"}
    theta = np.log(np.maximum(pi, np.finfo(float).tiny)).ravel()
    lam = np.linalg.eigvalsh(hessian(mdp, policy, theta, evaluation=ev))
    scale = max(float(np.abs(lam).max()), float(np.abs(ev.Q).max() * ev.visits.sum()))
    tol = d * np.finfo(float).eps * scale
    return {"d": d, "min": float(lam[0]), "max": float(lam[-1]), "positive": int((lam > tol).sum()),
            "negative": int((lam < -tol).sum()), "zero": int((np.abs(lam) <= tol).sum()), "tolerance": tol}


def _hessian_line(h: dict) -> str:
    if "skipped" in h:
        return f"Hessian of J: skipped ({h['skipped']})"
    shape = ("J is not concave here" if h["positive"] else "J is locally concave here" if h["negative"]
             else "the Hessian vanishes here (a deterministic policy: J is flat in the logits)")
    return (f"Hessian of J (tabular softmax, theta = log pi, d = {h['d']}): eigenvalues in "
            f"[{num(h['min'])}, {num(h['max'])}]; {h['positive']} positive, {h['negative']} negative, "
            f"{h['zero']} zero: {shape}")


def _solve_text(data: dict, named: io.NamedMDP, rows: int) -> str:
    m, mdp = data["mdp"], named.mdp
    finite = mdp.horizon is not None
    V, Q, A, d = (data[k][0] if finite else data[k] for k in ("V", "Q", "A", "d"))
    S = mdp.n_states
    head = [f"MDP {m['name']}: S={m['S']}, A={m['A']}, gamma={num(m['gamma'])}, horizon={m['horizon']}, "
            f"{'sparse' if m['sparse'] else 'dense'}",
            f"policy: {data['policy']}",
            f"J = {num(data['J'], 10)}    J* = {num(data['J_star'], 10)}    J* - J = {num(data['gap'])}",
            f"|grad J| (tabular softmax, theta = log pi) = {num(data['gradient_norm'])}",
            f"residual = {num(data['residual'])} ({data['solver']})",
            _hessian_line(data["hessian"]),
            "" if not finite else "values at step h = 0 (--json gives every step)"]
    acts = named.actions
    headers = ["state", "V", "d"] + [f"Q[{a}]" for a in acts] + [f"A[{a}]" for a in acts]
    shown = range(min(S, rows))
    body = [[named.states[s], V[s], d[s], *Q[s], *A[s]] for s in shown]
    tail = [f"... {S - len(shown)} more states (--rows N, or --json)"] if S > len(shown) else []
    return "\n".join([h for h in head if h] + [table(headers, body)] + tail)


# --------------------------------------------------------------------------------- zoo
def zoo(args) -> dict:
    """``tabular-pg zoo``: the zoo's MDPs, their parameters (with defaults) and sources."""
    entries: dict[str, dict[str, Any]] = {}
    for name, (constructor, defaults, description) in mdps.ZOO.items():
        params = {p.name: defaults.get(p.name, None if p.default is inspect.Parameter.empty else p.default)
                  for p in inspect.signature(constructor).parameters.values()}
        entries[name] = {"parameters": params, "description": description,
                         "example": f"{name}:" + ",".join(f"{k}={v}" for k, v in defaults.items())}
    rows = [[name, ", ".join(f"{k}={v}" for k, v in e["parameters"].items()), e["description"]]
            for name, e in entries.items()]
    aliases = mdps.ALIASES
    note = "short names: " + "; ".join(f"{n}: " + ", ".join(f"{k}={v}" for k, v in a.items())
                                       for n, a in aliases.items()) if aliases else ""
    text = table(["name", "parameters (defaults)", "description"], rows)
    return {"text": text + ("\n" + note if note else "") + "\nuse as MDP argument, e.g. tabular-pg solve chain:H=10",
            "data": entries}


# -------------------------------------------------------------------------- estimators
def estimators(args) -> dict:
    """``tabular-pg estimators MDP [--n N] [--seeds K] [--policy P]``; progress lines on
    stderr when it is not a terminal (a bar when it is; neither with ``--quiet``)."""
    mdp = resolve_mdp(args.mdp).mdp
    pi = resolve_policy(args.policy, mdp, lambda: optimum(mdp).pi)
    log = None if args.quiet or args.progress else (lambda line: print(line, file=sys.stderr, flush=True))
    result = estimator_rows(mdp, (args.n,), args.seeds, args.progress, np.random.default_rng(SEED), pi=pi, log=log)
    notes = coincidence_notes(result)
    text = "\n".join([estimator_head(args.mdp, result, mdp.horizon is None, policy=args.policy),
                      estimator_table(result), *notes])
    return {"text": text, "data": {"mdp": args.mdp, "policy": args.policy, **result, "notes": notes}}


# ------------------------------------------------------------------------------- train
def train(args) -> dict:
    """``tabular-pg train MDP --algo NAME [--iters N] [--sampled N] [--step X] [--plot FILE]``."""
    mdp = resolve_mdp(args.mdp).mdp
    hist = train_once(mdp, args.algo, args.iters, args.sampled, args.seed, parse_step(args.step), show=args.progress)
    J_star = optimum(mdp).J
    oracle = "exact oracle" if args.sampled is None else f"sampled oracle, n = {args.sampled} per query"
    shown = sorted(set(np.linspace(0, hist.iterations, min(11, hist.iterations + 1)).astype(int)))
    body = [[str(t), hist.J[t], J_star - hist.J[t], int(hist.trajectories[t])] for t in shown]
    lines = [f"{args.mdp}: {hist.algorithm}, {oracle}, {hist.iterations} iterations (seed {args.seed})",
             table(["iteration", "exact J", "J* - J", "trajectories"], body),
             f"J* = {num(J_star, 10)}; final J = {num(hist.J[-1], 10)}; {hist.wall_time[-1]:.2f} s"]
    if args.plot:
        written = plots.save(plots.learning_curves({args.algo: hist.J}, J_star=J_star,
                                                   title=f"{args.algo} on {args.mdp}"), args.plot)
        lines.append(f"learning curve: {written}")
    data = {"mdp": args.mdp, "algorithm": hist.algorithm, "oracle": oracle, "J_star": J_star, "J": hist.J,
            "trajectories": hist.trajectories, "steps": hist.steps, "wall_time": hist.wall_time}
    return {"text": "\n".join(lines), "data": data}


# ------------------------------------------------------------------------------ proofs
def proofs(args) -> dict:
    """``tabular-pg proofs [--errata] [--claim ID ...]``; exit status 1 if a verdict is not the registered one."""
    import proofs as package  # sympy: loaded only when the proofs are asked for
    verdicts = run_proofs(args.errata, args.claim)
    counts = verdict_counts(verdicts)
    text = package.report(verdicts)
    if counts["unexpected"]:
        text += "\nUNEXPECTED VERDICTS: " + ", ".join(counts["unexpected"])
    data = {"summary": counts, "verdicts": [dict(vars(v), as_expected=v.as_expected) for v in verdicts]}
    return {"text": text, "data": data, "status": 1 if counts["unexpected"] else 0}


# ---------------------------------------------------------------------------- theorems
def _iterate_rows(check) -> list:
    rel = "<=" if check.sense == "<=" else ">="
    return [[str(t), check.measured[t], rel, check.bound[t]] for t in range(check.measured.size)
            if not np.isnan(check.bound[t])]


def theorems(args) -> dict:
    """``tabular-pg theorems [--mdp SPEC ...] [--guarantee NAME ...] [--iters N] [--iterates] [--scale X]``.

    Every guarantee of :data:`tabular_pg.algorithms.guarantees.GUARANTEES` on every MDP (default:
    the zoo with its defaults); exit status 1 if an iterate violates its bound.
    """
    specs = args.mdp or list(mdps.ZOO)
    names = args.guarantee or list(GUARANTEES)
    rows, checks, lines, bad = [], [], [], []
    for spec in specs:
        mdp = resolve_mdp(spec).mdp
        setting = theorem_setting(mdp)
        for name in names:
            c = check_guarantee(name, mdp, args.iters, scale=args.scale, raise_on_violation=False)
            last = c.measured.size - 1
            verdict = "holds" if c.violations.size == 0 else f"VIOLATED at t = {c.violations.tolist()[:5]}"
            rows.append([name, spec, num(setting.gamma), c.quantity, c.measured[last], c.sense, c.bound[last],
                         c.tightness, verdict])
            checks.append({"guarantee": name, "reference": c.reference, "mdp": spec, "gamma": setting.gamma,
                           "quantity": c.quantity, "sense": c.sense, "measured": c.measured,
                           "bound": [None if np.isnan(b) else b for b in c.bound], "constants": c.constants,
                           "violations": c.violations, "tightness": c.tightness})
            if c.violations.size:
                bad.append(f"{name} on {spec}")
            if args.iterates:
                lines += [f"\n{name} ({c.reference}) on {spec}:",
                          table(["t", c.quantity, "", "bound"], _iterate_rows(c))]
    perturbed = "" if args.scale == 1 else f" PERTURBED: every bound made stricter by the factor {args.scale:g};"
    head = [f"published guarantees on exact runs ({args.iters} iterations;{perturbed} rewards mapped onto [0, 1], "
            "uniform start, gamma 0.9 for finite-horizon or gamma = 1 MDPs); tightness = max measured/bound "
            "(CPI: max bound - improvement)",
            table(["guarantee", "MDP", "gamma", "quantity", "at T", "", "bound at T", "tightness", "verdict"], rows),
            "references: " + "; ".join(f"{n}: {g.reference}" for n, g in GUARANTEES.items() if n in names)]
    tail = [f"VIOLATED: {', '.join(bad)}"] if bad else []
    return {"text": "\n".join(head + lines + tail), "data": {"checks": checks, "violated": bad},
            "status": 1 if bad else 0}


#: Subcommand name -> function of the parsed arguments.
COMMANDS = {"solve": solve, "zoo": zoo, "tour": tour, "estimators": estimators, "train": train, "proofs": proofs,
            "theorems": theorems}
