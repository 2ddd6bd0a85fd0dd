"""The algorithms of ``tabular-pg train`` and of the tour (internal): which class each
``--algo`` name builds, and one run of it.

Every algorithm is built from its class's own defaults; ``--step`` sets its main parameter.
Only a main parameter the class leaves without a usable default (PolicyGradient's
``step``, NaturalPolicyGradient's ``delta``) gets the CLI's fallback value.  Every run goes
through :func:`tabular_pg.algorithms.run`, which records the *exact* J of each iterate
whatever the oracle.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from tabular_pg.algorithms import (
    CEM,
    PPO,
    ConservativePolicyIteration,
    History,
    NaturalPolicyGradient,
    PolicyGradient,
    run,
)
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle
from tabular_pg.cli.specs import SEED
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Direct, TabularSoftmax

__all__ = ["AlgorithmChoice", "ALGORITHMS", "SAMPLED_IN_TOUR", "make_algorithm", "make_oracle", "train_once",
           "parse_step"]


class AlgorithmChoice(NamedTuple):
    """An ``--algo`` choice: the class, the parameter ``--step`` sets, and the value that
    parameter takes when the class gives it no default (None or missing)."""

    cls: type
    parameter: str
    fallback: object = None


#: ``--algo`` name -> what it builds.
ALGORITHMS = {
    "pg": AlgorithmChoice(PolicyGradient, "step"),
    "npg": AlgorithmChoice(NaturalPolicyGradient, "delta"),
    "cpi": AlgorithmChoice(ConservativePolicyIteration, "alpha"),
    "ppo": AlgorithmChoice(PPO, "step"),
    "cem": AlgorithmChoice(CEM, "std"),
}
#: Algorithms the tour also runs with a sampled oracle (CEM spends a batch per candidate of
#: its population, so the tour runs it exactly only; ``train --sampled N`` runs it too).
SAMPLED_IN_TOUR = ("pg", "npg", "cpi", "ppo")


def _class_default(cls: type, name: str):
    """The default of the dataclass field ``name`` of ``cls`` (None when it has none)."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    return None if field.default_factory is dataclasses.MISSING else field.default_factory()


def make_algorithm(name: str, step=None):
    """The algorithm ``name`` (a key of :data:`ALGORITHMS`): its class defaults, with its
    main parameter set to ``step`` when given.

    Examples
    --------
    >>> make_algorithm("npg", 0.01)  # doctest: +NORMALIZE_WHITESPACE
    NaturalPolicyGradient(step=None, delta=0.01, damping=None, backtrack=0.5, max_backtracks=10, kl_slack=1.5,
                          entropy=0.0)
    """
    if name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {sorted(ALGORITHMS)}; got {name!r}")
    choice = ALGORITHMS[name]
    if step is None and _class_default(choice.cls, choice.parameter) is None:
        step = choice.fallback
    return choice.cls() if step is None else choice.cls(**{choice.parameter: step})


def make_oracle(mdp: FiniteMDP, sampled: int | None = None, seed: int = 0):
    """The exact oracle (``sampled=None``), or a :class:`~tabular_pg.SampledOracle` with its
    defaults, ``sampled`` trajectories per query and the generator ``default_rng([SEED, seed])``."""
    if sampled is None:
        return ExactOracle(mdp)
    return SampledOracle(mdp, sampled, rng=np.random.default_rng([SEED, seed]))


def train_once(mdp: FiniteMDP, name: str, iterations: int, sampled: int | None = None, seed: int = 0,
               step=None, theta0=None, show: bool = False) -> History:
    """One run of ``name`` from the uniform policy (or the softmax parameters ``theta0``).

    The oracle is :func:`make_oracle`'s.  CPI runs on the :class:`~tabular_pg.Direct`
    parameterisation, the others on the :class:`~tabular_pg.TabularSoftmax`; seeds as in
    :data:`tabular_pg.cli.specs.SEED`.
    """
    S, A = mdp.n_states, mdp.n_actions
    policy = Direct(S, A) if name == "cpi" else TabularSoftmax(S, A)
    theta = policy.initial() if theta0 is None else theta0
    if name == "cpi" and theta0 is not None:
        theta = Direct(S, A).from_probs(TabularSoftmax(S, A).probs(theta0))
    return run(make_algorithm(name, step), mdp, policy, theta, make_oracle(mdp, sampled, seed), iterations,
               rng=np.random.default_rng(SEED + seed), progress=show)


def parse_step(text: str | None):
    """``--step`` as a number, or CPI's ``bound`` / ``line_search`` (None stays None).

    Examples
    --------
    >>> parse_step("0.5"), parse_step("line_search"), parse_step(None)
    (0.5, 'line_search', None)
    """
    if text is None or text in ("bound", "line_search"):
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--step must be a number (or bound / line_search for cpi); got {text!r}") from None
