"""The cross-entropy method over policy parameters ("Lecture 6: The Policy Gradient" §4)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import positive_int, positive_number
from tabular_pg.algorithms.run import Algorithm

__all__ = ["CEM"]


@dataclass(frozen=True)
class CEM(Algorithm):
    """Gaussian search :math:`\\theta \\sim \\mathcal N(\\mu_t, \\mathrm{diag}\\,\\sigma_t^2)`, refit to the elite.

    Parameters
    ----------
    population : int >= 2
        Candidates drawn per iteration (default 8).
    elite : int, 1 <= elite <= population
        How many of the best candidates the distribution is refit to (default 2).
    std : float > 0
        Initial :math:`\\sigma` (every coordinate; default 2.0).
    noise : float >= 0 (default 0.5)
        Extra standard deviation added in quadrature after each refit,
        :math:`\\sigma^2 \\leftarrow \\mathrm{Var}(\\text{elite}) + \\text{noise}^2`, which keeps the
        search from collapsing early (Szita & Lőrincz 2006).

    Notes
    -----
    "Lecture 6: The Policy Gradient" §4: maximise :math:`f(\\theta) = \\mathbb E_{\\pi_\\theta}[\\sum_t\\gamma^t r_t]`
    (eq. 31) by keeping a distribution over :math:`\\theta`; the fitness is the oracle's
    ``value`` (exact J, or a sampled mean return that costs samples).  The iterate is the
    mean :math:`\\mu_t`; :math:`\\sigma_t` is the algorithm's state.

    Defaults: a sampled fitness costs ``n`` trajectories per candidate, so a budget of
    ``B`` trajectories allows ``B / (n * population)`` iterations; with ``n = 50`` and
    ``B = 10,000`` the former default (50 candidates) got 4 iterations.  Measured (seeds
    0..4, ``SampledOracle(n=50)``, 10,000 trajectories), final J/J* of seed 4, old -> new
    defaults: 10-state garnet 0.84 -> 0.98, uniform-reset chain H = 8 0.35 -> 0.47,
    Sutton-Barto grid 0.36 -> 0.63.  Neither reaches 0.99 J* in that budget.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> hist = tpg.algorithms.run(CEM(population=20, elite=5), mdp, pol, pol.initial(),
    ...                           tpg.oracles.ExactOracle(mdp), 30, rng=np.random.default_rng(0))
    >>> bool(hist.J[-1] > 0.85)
    True
    """

    population: int = 8
    elite: int = 2
    std: float = 2.0
    noise: float = 0.5

    needs_rng = True

    def __post_init__(self):
        if positive_int("population", self.population) < 2:
            raise ValueError(f"population must be an int >= 2; got {self.population!r}")
        if positive_int("elite", self.elite) > self.population:
            raise ValueError(f"elite must be <= population = {self.population}; got {self.elite!r}")
        positive_number("std", self.std)
        positive_number("noise", self.noise, allow_zero=True)

    def start(self, policy, theta):
        return np.full(theta.shape, self.std)

    def update(self, policy, theta, oracle, state, rng):
        candidates = theta + state * rng.standard_normal((self.population, theta.size))
        fitness = np.array([oracle.value(policy, c) for c in candidates])
        elite = candidates[np.argsort(-fitness, kind="stable")[:self.elite]]
        return elite.mean(axis=0), np.sqrt(elite.var(axis=0) + self.noise ** 2)
