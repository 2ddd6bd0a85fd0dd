"""Natural policy gradient: fixed step, or the trust-region step of lecture 002."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg.algorithms.run import Algorithm, positive_number

__all__ = ["NaturalPolicyGradient"]


@dataclass(frozen=True)
class NaturalPolicyGradient(Algorithm):
    """:math:`\\theta_{t+1} = \\theta_t + \\alpha_t F_t^+ g_t` with a fixed or trust-region step.

    Parameters
    ----------
    step : float > 0, optional
        Fixed :math:`\\alpha` (give exactly one of ``step`` and ``delta``).
    delta : float > 0, optional
        Trust region :math:`d_{KL} \\le \\delta`: :math:`\\alpha_t = \\sqrt{2\\delta / g_t^\\top F_t^+ g_t}`.
    damping : float >= 0
        Tikhonov damping :math:`\\lambda` of :math:`(F + \\lambda I)^{-1}` (0: pseudo-inverse).

    Notes
    -----
    Lecture 002 §3.  The trust-region step maximises :math:`g^\\top\\Delta` subject to
    :math:`\\tfrac12\\Delta^\\top F\\Delta \\le \\delta`, the second-order expansion of
    :math:`d_{KL}` *with* its factor 1/2 (the lecture drops it and gets
    :math:`\\sqrt{\\delta/g^\\top F^{-1}g}`, whose realised KL is :math:`\\approx 2\\delta`); see
    :func:`tabular_pg.trust_region_step`.  With a tabular softmax and the exact oracle,
    :math:`F^+g = A/(1-\\gamma)` up to a per-state constant, so the update is soft policy
    iteration :math:`\\pi_{t+1} \\propto \\pi_t \\exp(\\alpha A^{\\pi_t}/(1-\\gamma))`
    (Kakade 2001; Agarwal et al. 2021, Lemma 5.1).

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=4); pol = tpg.TabularSoftmax(5, 3); th = pol.initial()
    >>> oracle = tpg.oracles.ExactOracle(mdp)
    >>> new, _ = NaturalPolicyGradient(delta=1e-4).update(pol, th, oracle, None, None)
    >>> bool(np.allclose(new, tpg.trust_region_step(mdp, pol, th, 1e-4)))
    True
    """

    step: float | None = None
    delta: float | None = None
    damping: float = 0.0

    def __post_init__(self):
        if (self.step is None) == (self.delta is None):
            raise ValueError(f"give exactly one of step and delta; got step={self.step!r}, delta={self.delta!r}")
        if self.step is not None:
            positive_number("step", self.step)
        else:
            positive_number("delta", self.delta)
        positive_number("damping", self.damping, allow_zero=True)

    def update(self, policy, theta, oracle, state, rng):
        answers = oracle.query(policy, theta)
        w = answers.natural_gradient(self.damping)
        if self.step is not None:
            return theta + self.step * w, state
        gw = float(answers.gradient @ w)
        if not gw > 0:                   # zero (or unusable) gradient: nothing to follow
            return theta.copy(), state
        return theta + np.sqrt(2 * self.delta / gw) * w, state
