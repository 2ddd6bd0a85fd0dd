"""Conservative policy iteration (Kakade & Langford, 2002) on directly parameterised policies."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg.policies import Direct
from tabular_pg.algorithms.run import Algorithm

__all__ = ["ConservativePolicyIteration", "greedy_policy", "policy_advantage", "improvement_bound",
           "bound_step"]

#: Mixture weights tried by ``alpha="line_search"``: 1, 1/2, ..., 2^-10.
LINE_SEARCH = tuple(2.0 ** -k for k in range(11))


def greedy_policy(answers) -> np.ndarray:
    """:math:`\\pi'(s) = \\arg\\max_a \\hat Q(s,a)`, shape ``(S, A)``; :math:`\\pi' = \\pi` where unvisited.

    Infinite horizon: greedy in the (estimated) :math:`Q^{\\pi}` (lecture 002 §2).  A
    stationary policy on a finite horizon is greedy in :math:`\\sum_h \\gamma^h d_h(s)
    A_h(s,a)`, the direction of :math:`\\partial J/\\partial\\pi(a|s)` (Agarwal et al. 2021, eq. 3).
    Ties share the probability equally (no action is favoured by its index: with all
    returns 0 the greedy policy is the uniform one); states the oracle never saw keep
    their current action distribution.
    """
    visits = answers.visits
    if visits.ndim == 1:
        score, seen = answers.Q, visits > 0
    else:
        score, seen = np.einsum("hs,hsa->sa", visits, answers.A), visits.sum(axis=0) > 0
    best = (score == score.max(axis=1, keepdims=True)).astype(float)
    best /= best.sum(axis=1, keepdims=True)
    return np.where(seen[:, None], best, answers.pi)


def policy_advantage(answers, pi_new: np.ndarray) -> tuple[float, float]:
    """:math:`\\mathbb A = \\mathbb E_{s\\sim d^\\pi}\\mathbb E_{a\\sim\\pi'}[A^\\pi(s,a)]` and
    :math:`\\varepsilon = \\max_s |\\mathbb E_{a\\sim\\pi'}A^\\pi(s,a)|`, unnormalised values.

    Kakade & Langford (2002), Definition 4.1 and Theorem 4.1, with :math:`d` the normalised
    discounted visitation :math:`(1-\\gamma)\\tilde d` (infinite horizon, ``gamma < 1``).
    """
    per_state = (pi_new * answers.A).sum(axis=1)
    gamma = answers.mdp.gamma
    return float((1 - gamma) * answers.visits @ per_state), float(np.abs(per_state).max())


def improvement_bound(alpha: float, advantage: float, epsilon: float, gamma: float) -> float:
    """Guaranteed :math:`J(\\pi_{new}) - J(\\pi)` of the mixture :math:`(1-\\alpha)\\pi + \\alpha\\pi'`.

    Notes
    -----
    Kakade & Langford (2002), Theorem 4.1, in their normalised units
    (:math:`\\eta = (1-\\gamma)J`, :math:`A_{KL} = (1-\\gamma)A`):

    .. math:: \\eta(\\pi_{new}) - \\eta(\\pi) \\ge \\frac{\\alpha}{1-\\gamma}
              \\Big(\\mathbb A_{KL} - \\frac{2\\alpha\\gamma\\varepsilon_{KL}}{1-\\gamma(1-\\alpha)}\\Big).

    Both sides are homogeneous of degree one in the reward scale, so dividing by
    :math:`1-\\gamma` gives the same formula in our unnormalised units:
    :math:`J(\\pi_{new}) - J(\\pi) \\ge \\frac{\\alpha}{1-\\gamma}(\\mathbb A -
    \\frac{2\\alpha\\gamma\\varepsilon}{1-\\gamma(1-\\alpha)})` with :math:`\\mathbb A, \\varepsilon`
    of :func:`policy_advantage`.

    Examples
    --------
    >>> improvement_bound(0.0, 1.0, 5.0, 0.9)
    0.0
    """
    return alpha / (1 - gamma) * (advantage - 2 * alpha * gamma * epsilon / (1 - gamma * (1 - alpha)))


def bound_step(advantage: float, epsilon: float, gamma: float) -> float:
    """The mixture weight :math:`\\alpha = \\min(1, (1-\\gamma)\\mathbb A / (4\\gamma\\varepsilon))`.

    Notes
    -----
    Kakade & Langford (2002), Corollary 4.2, with the bound :math:`R` on rewards replaced by
    :math:`\\varepsilon` (the corollary uses only :math:`\\varepsilon \\le R`) and the factor
    :math:`\\gamma` kept.  Since :math:`1-\\gamma(1-\\alpha) \\ge 1-\\gamma`, the bound of
    :func:`improvement_bound` is at least :math:`\\frac{\\alpha}{1-\\gamma}(\\mathbb A -
    \\frac{2\\alpha\\gamma\\varepsilon}{1-\\gamma})`, maximised by this :math:`\\alpha`, where it
    equals :math:`\\mathbb A^2/(8\\gamma\\varepsilon) > 0` whenever :math:`\\mathbb A > 0`
    (at :math:`\\alpha = 1` it is at least :math:`\\mathbb A/2`).  Unit-free: the ratio
    :math:`\\mathbb A/\\varepsilon` is the same normalised or not.

    Examples
    --------
    >>> a = bound_step(0.1, 2.0, 0.9)
    >>> bool(improvement_bound(a, 0.1, 2.0, 0.9) >= 0.1 ** 2 / (8 * 0.9 * 2.0))
    True
    """
    if advantage <= 0:
        return 0.0
    if gamma * epsilon == 0:
        return 1.0
    return float(min(1.0, (1 - gamma) * advantage / (4 * gamma * epsilon)))


@dataclass(frozen=True)
class ConservativePolicyIteration(Algorithm):
    """:math:`\\pi_{t+1} = (1-\\alpha)\\pi_t + \\alpha\\pi'_t`, :math:`\\pi'_t` greedy in :math:`\\hat Q^{\\pi_t}`.

    Parameters
    ----------
    alpha : float in (0, 1], or ``"bound"``, or ``"line_search"``
        A fixed mixture weight; ``"bound"`` the weight of :func:`bound_step`, whose
        guaranteed improvement (:func:`improvement_bound`) is positive (infinite horizon,
        ``gamma < 1``); ``"line_search"`` the best of 1, 1/2, ..., 2^-10 by the oracle's
        ``value`` (exact J, or a sampled return that costs samples).

    Notes
    -----
    Lecture 002 §2 ("conservative policy iteration, incremental update") and Kakade &
    Langford (2002), §4.  Mixing happens in probability space, so the policy must be
    :class:`~tabular_pg.Direct`.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(6, 3, 2, seed=1); pol = tpg.Direct(6, 3)
    >>> hist = tpg.algorithms.run(ConservativePolicyIteration("bound"), mdp, pol, pol.initial(),
    ...                           tpg.oracles.ExactOracle(mdp), 20)
    >>> bool(np.all(np.diff(hist.J) > 0))
    True
    """

    alpha: float | str = "bound"

    def __post_init__(self):
        a = self.alpha
        if isinstance(a, str):
            if a not in ("bound", "line_search"):
                raise ValueError(f"alpha must be a number in (0, 1], 'bound' or 'line_search'; got {a!r}")
        elif isinstance(a, bool) or not isinstance(a, (int, float, np.number)) or not 0 < a <= 1:
            raise ValueError(f"alpha must be a number in (0, 1], 'bound' or 'line_search'; got {a!r}")

    def step_size(self, answers, pi_new: np.ndarray, policy, oracle) -> float:
        """The mixture weight of this iteration (see ``alpha``)."""
        if not isinstance(self.alpha, str):
            return float(self.alpha)
        mdp = answers.mdp
        if self.alpha == "bound":
            if mdp.horizon is not None or not mdp.gamma < 1:
                raise ValueError("alpha='bound' needs an infinite-horizon MDP with gamma < 1 "
                                 f"(Kakade & Langford's theorem); got gamma={mdp.gamma}, horizon={mdp.horizon}")
            return bound_step(*policy_advantage(answers, pi_new), mdp.gamma)
        values = [oracle.value(policy, ((1 - a) * answers.pi + a * pi_new).reshape(-1)) for a in LINE_SEARCH]
        best = int(np.argmax(values))
        return LINE_SEARCH[best] if values[best] > answers.J else 0.0

    def update(self, policy, theta, oracle, state, rng):
        if not isinstance(policy, Direct):
            raise ValueError(f"conservative policy iteration mixes probabilities: policy must be Direct; "
                             f"got {type(policy).__name__}")
        answers = oracle.query(policy, theta)
        pi_new = greedy_policy(answers)
        alpha = self.step_size(answers, pi_new, policy, oracle)
        return ((1 - alpha) * answers.pi + alpha * pi_new).reshape(-1), state
