"""The MDP zoo: constructors of named MDPs, each returning a :class:`tabular_pg.FiniteMDP`.

``ZOO`` maps a name to ``(constructor, default parameters, description)``;
:func:`from_spec` builds an MDP from a spec such as ``"chain:H=10"`` or
``"garnet:S=50,A=4,b=3,seed=0"`` (for the command line).
"""
from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import NamedTuple

from mdps.agarwal import agarwal_chain
from mdps.bandit import bandit
from mdps.chain import chain
from mdps.garnet import garnet
from mdps.gridworld import grid_cells, gridworld, russell_norvig_grid, sutton_barto_grid

__all__ = ["chain", "garnet", "gridworld", "grid_cells", "sutton_barto_grid", "russell_norvig_grid",
           "bandit", "agarwal_chain", "ZOO", "ZooEntry", "from_spec", "parse_spec"]


class ZooEntry(NamedTuple):
    """A zoo entry: the constructor, its default parameters and a one-line description."""

    constructor: Callable
    defaults: dict
    description: str


ZOO: dict[str, ZooEntry] = {
    "chain": ZooEntry(chain, {"H": 10, "n_actions": 3, "reset": "start", "gamma": 1.0},
                      "the exploration chain of “Policy Gradient (continued)”: "
                      "uniform policy reaches the reward w.p. 3^-H"),
    "garnet": ZooEntry(garnet, {"S": 50, "A": 4, "branching": 3, "seed": 0, "gamma": 0.99},
                       "Garnet random MDP (Archibald et al. 1995; Bhatnagar et al. 2009)"),
    "sutton_barto_grid": ZooEntry(sutton_barto_grid, {"gamma": 0.9},
                                  "Sutton & Barto 2018 Example 3.5 5x5 grid with A->A' (+10), B->B' (+5)"),
    "russell_norvig_grid": ZooEntry(russell_norvig_grid, {"step_reward": -0.04, "gamma": 1.0},
                                    "Russell & Norvig 4x3 world, slip 0.2, terminals +1/-1"),
    "bandit": ZooEntry(bandit, {"means": [0.2, 0.5, 0.9]}, "multi-armed bandit: one state, horizon 1"),
    "agarwal_chain": ZooEntry(agarwal_chain, {"H": 10, "n_actions": 4, "gamma": None},
                              "Agarwal et al. 2021 Fig. 2 chain: vanishing gradients, gamma = H/(H+1)"),
}

#: Short names accepted in specs.
ALIASES = {"garnet": {"b": "branching"}, "chain": {"A": "n_actions"}, "agarwal_chain": {"A": "n_actions"}}


def _split_params(text: str) -> list[str]:
    """Split ``"a=1,b=[1,2]"`` at the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_spec(spec: str) -> tuple[str, dict]:
    """``"name:k=v,k=v"`` -> ``(name, {k: v})``; values are Python literals or strings.

    Examples
    --------
    >>> parse_spec("garnet:S=50,A=4,b=3,seed=0")
    ('garnet', {'S': 50, 'A': 4, 'b': 3, 'seed': 0})
    >>> parse_spec("bandit:means=[0.1, 0.9]")
    ('bandit', {'means': [0.1, 0.9]})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"spec must be a non-empty string like 'chain:H=10'; got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    params = {}
    for item in _split_params(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"spec parameter {item!r} in {spec!r} is not of the form key=value")
        params[key.strip()] = _value(value.strip())
    return name.strip(), params


def from_spec(spec: str):
    """Build the zoo MDP named by ``spec``, e.g. ``"chain:H=10"``; unset parameters take defaults.

    Raises ``ValueError`` naming an unknown MDP name or parameter.

    Examples
    --------
    >>> mdp = from_spec("chain:H=6,reset=uniform")
    >>> mdp.horizon, float(mdp.mu[0])
    (6, 0.16666666666666666)
    >>> from_spec("garnet:S=50,A=4,b=3,seed=0").n_states
    50
    """
    name, params = parse_spec(spec)
    if name not in ZOO:
        raise ValueError(f"unknown MDP name {name!r} in spec {spec!r}; known: {sorted(ZOO)}")
    entry = ZOO[name]
    aliases = ALIASES.get(name, {})
    params = {aliases.get(k, k): v for k, v in params.items()}
    allowed = set(inspect.signature(entry.constructor).parameters)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for {name!r} in spec {spec!r}; "
                         f"known: {sorted(allowed | set(aliases))}")
    return entry.constructor(**{**entry.defaults, **params})
