"""The subcommands of ``tabular-pg`` (internal): each takes the parsed arguments and returns
``{"text": str, "data": dict}`` (and optionally ``"status"``), printed by :func:`tabular_pg.cli.main`."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from tabular_pg import io
from tabular_pg.cli.format import num, table
from tabular_pg.cli.sections import estimators_command, proofs_command
from tabular_pg.cli.train import train_command
from tabular_pg.cli.report import exact_quantities, mdp_summary, require_module, tour

__all__ = ["resolve_mdp", "COMMANDS"]


def _zoo():
    return require_module("mdps", "from_spec", "zoo specs need the MDP zoo (the mdps package), which this "
                          "installation lacks; give a .json/.npz file instead")


def resolve_mdp(spec: str) -> io.NamedMDP:
    """The MDP named by a command-line argument: a file, ``gym:ID[:k=v,...]`` or a zoo spec."""
    if spec.lower().endswith((".json", ".npz")) or Path(spec).is_file():
        return io.load_named(spec)
    if spec.startswith("gym:"):
        return _gym_mdp(spec[4:])
    mdp = _zoo().from_spec(spec)
    return io.NamedMDP(mdp, [str(s) for s in range(mdp.n_states)], [str(a) for a in range(mdp.n_actions)])


def _gym_mdp(spec: str) -> io.NamedMDP:
    try:
        import gymnasium
    except ImportError:
        raise ValueError("gym: MDPs need the gym extra (pip install gymnasium)") from None
    env_id, params = _zoo().parse_spec(spec)
    gamma, horizon = params.pop("gamma", 0.99), params.pop("horizon", None)
    try:
        env = gymnasium.make(env_id, **params)
    except gymnasium.error.Error as exc:
        raise ValueError(f"gym:{env_id}: {exc}") from None
    mdp = io.from_gymnasium(env, gamma=gamma, horizon=horizon)
    return io.NamedMDP(mdp, [str(s) for s in range(mdp.n_states)], [str(a) for a in range(mdp.n_actions)])


def _policy(choice: str, mdp, opt) -> np.ndarray:
    if choice == "uniform":
        return np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    if choice == "optimal":
        return opt.pi
    return io.load_policy(choice, mdp)


# ------------------------------------------------------------------------------- solve
def solve(args) -> dict:
    """``tabular-pg solve MDP [--policy uniform|optimal|FILE]``."""
    named = resolve_mdp(args.mdp)
    mdp = named.mdp
    q = exact_quantities(mdp, lambda opt: _policy(args.policy, mdp, opt))
    ev = q["evaluation"]
    data = {"mdp": mdp_summary(mdp, args.mdp), "policy": args.policy, "J": ev.J, "J_star": q["J_star"],
            "gap": q["J_star"] - ev.J, "gradient_norm": q["gradient_norm"], "residual": ev.residual,
            "solver": ev.solver, "states": named.states, "actions": named.actions,
            "pi": ev.pi, "V": ev.V, "Q": ev.Q, "A": ev.A, "d": ev.d}
    return {"text": _solve_text(data, named, args.rows), "data": data}


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
    entries = {}
    for name, (constructor, defaults, description) in _zoo().ZOO.items():
        params = {p.name: defaults.get(p.name, None if p.default is inspect.Parameter.empty else p.default)
                  for p in inspect.signature(constructor).parameters.values()}
        entries[name] = {"parameters": params, "description": description,
                         "example": f"{name}:" + ",".join(f"{k}={v}" for k, v in defaults.items())}
    rows = [[name, ", ".join(f"{k}={v}" for k, v in e["parameters"].items()), e["description"]]
            for name, e in entries.items()]
    aliases = getattr(_zoo(), "ALIASES", {})
    note = "short names: " + "; ".join(f"{n}: " + ", ".join(f"{k}={v}" for k, v in a.items())
                                       for n, a in aliases.items()) if aliases else ""
    text = table(["name", "parameters (defaults)", "description"], rows)
    return {"text": text + ("\n" + note if note else "") + "\nuse as MDP argument, e.g. tabular-pg solve chain:H=10",
            "data": entries}


COMMANDS = {"solve": solve, "zoo": zoo, "tour": tour, "estimators": estimators_command,
            "train": train_command, "proofs": proofs_command}
