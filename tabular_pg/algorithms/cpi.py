"""Conservative policy iteration (Kakade & Langford, 2002) on directly parameterised policies."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.policies import Direct

__all__ = ["ConservativePolicyIteration", "greedy_policy", "policy_advantage", "improvement_bound",
           "bound_step"]

#: Mixture weights tried by ``alpha="line_search"``: 1, 1/2, ..., 2^-10.
LINE_SEARCH = tuple(2.0 ** -k for k in range(11))


def greedy_policy(answers) -> np.ndarray:
    """:math:`\\pi'(s) = \\arg\\max_a \\hat A(s,a)` where the data shows an improvement, else :math:`\\pi(s)`;
    ``(S, A)``.

    Infinite horizon: greedy in the (estimated) :math:`A^{\\pi}` (Kakade & Langford 2002,
    §4: the greedy policy of the policy advantage).  A stationary policy on a finite
    horizon is greedy in :math:`\\sum_h \\gamma^h d_h(s) A_h(s,a)`, the direction of
    :math:`\\partial J/\\partial\\pi(a|s)` (Agarwal et al. 2021, eq. 3).

    Only known pairs compete (``answers.Q_seen``: every pair for exact answers, the
    sampled ones for sampled answers): an action never tried is *unknown*, not worth 0.
    A state moves to its best known action(s) (ties share the probability equally) only
    when that action's score is > 0, i.e. the data says it beats :math:`\\pi(s)`; every
    other state, and every state never visited, keeps :math:`\\pi(s)` unchanged, so the
    mixture keeps exploring the actions it knows nothing about.
    """
    visits, pi = answers.visits, answers.pi
    if visits.ndim == 1:
        score, seen = answers.A, answers.Q_seen & (visits > 0)[:, None]
    else:
        score = np.einsum("hs,hsa->sa", visits, answers.A)
        seen = answers.Q_seen.any(axis=0) & (visits.sum(axis=0) > 0)[:, None]
    score = np.where(seen, score, -np.inf)
    top = score.max(axis=1, keepdims=True)
    best = (score == top).astype(float)
    best /= best.sum(axis=1, keepdims=True)
    return np.where(top > 0, best, pi)


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
        A fixed mixture weight (default 0.3); ``"bound"`` the weight of :func:`bound_step`, whose
        guaranteed improvement (:func:`improvement_bound`) is positive (infinite horizon,
        ``gamma < 1``); ``"line_search"`` the best of 1, 1/2, ..., 2^-10 by the oracle's
        ``value`` (exact J, or a sampled return that costs samples).  ``"bound"`` and
        ``"line_search"`` return 0 with a :class:`~tabular_pg.exact.linsolve.ConvergenceWarning`
        when nothing improves; so does every rule when the greedy policy equals :math:`\\pi`.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §2 ("conservative policy iteration, incremental update")
    and Kakade & Langford (2002), §4.  Mixing happens in probability space, so the policy must be
    :class:`~tabular_pg.Direct`.

    From samples, :math:`\\pi'` moves only where a sampled action's :math:`\\hat A > 0`
    (:func:`greedy_policy`), with first-visit, truncation-free :math:`\\hat Q, \\hat V`.  The
    default 0.3 was measured against the sampled oracle (n = 50, seeds 0..4): 0.99 J* after
    600-800 trajectories on a 10-state garnet, 900-1,100 on the Sutton-Barto grid, 2,500-3,850
    on the uniform-reset chain (H = 8).  ``"bound"`` with estimated :math:`\\hat{\\mathbb A},
    \\hat\\varepsilon` is honest but small (garnet 0.97 J*, grid 0.84 J* after 10,000
    trajectories); ``"line_search"`` spends ``11 n`` trajectories per iteration on values.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(6, 3, 2, seed=1); pol = tpg.Direct(6, 3)
    >>> hist = tpg.algorithms.run(ConservativePolicyIteration("bound"), mdp, pol, pol.initial(),
    ...                           tpg.oracles.ExactOracle(mdp), 20)
    >>> bool(np.all(np.diff(hist.J) > 0))
    True
    """

    alpha: float | str = 0.3

    def __post_init__(self):
        a = self.alpha
        if isinstance(a, str):
            if a not in ("bound", "line_search"):
                raise ValueError(f"alpha must be a number in (0, 1], 'bound' or 'line_search'; got {a!r}")
        elif isinstance(a, bool) or not isinstance(a, (int, float, np.number)) or not 0 < a <= 1:
            raise ValueError(f"alpha must be a number in (0, 1], 'bound' or 'line_search'; got {a!r}")

    def step_size(self, answers, pi_new: np.ndarray, policy, oracle) -> float:
        """The mixture weight of this iteration (see ``alpha``); 0 with a ``ConvergenceWarning`` if none helps."""
        if not isinstance(self.alpha, str):
            return float(self.alpha)
        mdp = answers.mdp
        if self.alpha == "bound":
            if mdp.horizon is not None or not mdp.gamma < 1:
                raise ValueError("alpha='bound' needs an infinite-horizon MDP with gamma < 1 "
                                 f"(Kakade & Langford's theorem); got gamma={mdp.gamma}, horizon={mdp.horizon}")
            advantage, epsilon = policy_advantage(answers, pi_new)
            if advantage <= 0:
                warnings.warn(f"CPI: the (estimated) policy advantage {advantage:.3g} is <= 0, so the bound "
                              "allows no step (alpha = 0)", ConvergenceWarning, stacklevel=3)
            return bound_step(advantage, epsilon, mdp.gamma)
        values = [oracle.value(policy, ((1 - a) * answers.pi + a * pi_new).reshape(-1)) for a in LINE_SEARCH]
        best = int(np.argmax(values))
        if values[best] > answers.J:
            return LINE_SEARCH[best]
        warnings.warn(f"CPI: no mixture weight in {LINE_SEARCH[-1]:g}..1 improves on J = {answers.J:.6g} "
                      f"(best {values[best]:.6g}): alpha = 0", ConvergenceWarning, stacklevel=3)
        return 0.0

    def update(self, policy, theta, oracle, state, rng):
        if not isinstance(policy, Direct):
            raise ValueError(f"conservative policy iteration mixes probabilities: policy must be Direct; "
                             f"got {type(policy).__name__}")
        answers = oracle.query(policy, theta)
        pi_new = greedy_policy(answers)
        if np.array_equal(pi_new, answers.pi):
            warnings.warn("CPI: the greedy policy equals pi (no known action beats pi in any visited state): "
                          "the update cannot move", ConvergenceWarning, stacklevel=2)
            return answers.pi.reshape(-1), state
        alpha = self.step_size(answers, pi_new, policy, oracle)
        return ((1 - alpha) * answers.pi + alpha * pi_new).reshape(-1), state
