r"""Importance weights for off-policy policy gradients: trajectories from a behaviour policy :math:`\beta`.

The ratio of one step is :math:`c_t = \pi(a_t|s_t)/\beta(a_t|s_t)`, optionally truncated at
:math:`\bar c`: :math:`c_t = \min(\bar c,\ \pi/\beta)` (the truncated traces of Munos, Stepleton,
Harutyunyan & Bellemare 2016 "Safe and Efficient Off-Policy Reinforcement Learning" (Retrace)
and Espeholt et al. 2018 "IMPALA" (V-trace)).  Two ways to weight an estimator
:math:`\hat g = \sum_t\psi_t W_t` (Precup, Sutton & Singh 2000 "Eligibility Traces for
Off-Policy Policy Evaluation"):

* ``"trajectory"``: the whole-trajectory weight :math:`w_{0:T} = \prod_{t<T} c_t` multiplies
  every term;
* ``"per_decision"``: each reward and each baseline term carries only the ratios up to its
  own action: :math:`\sum_t \psi_t\,(\sum_{t'\ge t} w_{0:t'}\gamma^{t'}r_{t'} - w_{0:t}\gamma^t b_t(s_t))`,
  :math:`w_{0:t} = \prod_{k\le t} c_k` (reward-to-go only: a total return puts every reward on
  every score).

Untruncated, both are unbiased for :math:`\nabla J` whenever :math:`\beta > 0` where
:math:`\pi > 0`.  Truncated, the mean is the same functional taken over paths whose action
measure is the sub-stochastic :math:`\tilde\pi(a|s) = \min(\pi(a|s), \bar c\,\beta(a|s))`
instead of :math:`\pi`, with the scores and critics still those of :math:`\pi`: it is
:math:`\nabla J` only if no ratio on the support exceeds :math:`\bar c`; otherwise it is biased
(toward the actions :math:`\beta` favours), and :mod:`tabular_pg.sampled.moments` computes
that mean exactly.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from tabular_pg._checks import as_float_array, check_distributions, positive_number
from tabular_pg.sampled.moments_recursion import LinearSpec

__all__ = ["IMPORTANCE", "check_importance", "check_truncation", "check_behaviour", "ratio_table",
           "step_ratios", "importance_weights", "importance_spec"]

#: The two importance weightings (module docstring).
IMPORTANCE = ("per_decision", "trajectory")


def check_importance(importance) -> None:
    """ValueError unless ``importance`` is one of :data:`IMPORTANCE`."""
    if not (isinstance(importance, str) and importance in IMPORTANCE):
        raise ValueError(f"importance must be one of {IMPORTANCE}; got {importance!r}")


def check_truncation(truncation) -> None:
    """None, or a finite number > 0 (the :math:`\\bar c` of the ratios); TypeError/ValueError otherwise."""
    if truncation is not None:
        positive_number("truncation", truncation)


def check_behaviour(behaviour, pi: np.ndarray) -> np.ndarray:
    """The behaviour policy ``(S, A)`` (or ``pi``'s shape) as floats; positive wherever ``pi`` is.

    ``pi`` is the target policy ``(S, A)`` or ``(H, S, A)``.
    """
    beta = as_float_array("behaviour", behaviour)
    shapes = {pi.shape[-2:], pi.shape}
    if beta.shape not in shapes:
        raise ValueError(f"behaviour must have shape {' or '.join(map(str, sorted(shapes)))} (the policy's "
                         f"states and actions); got {beta.shape}")
    check_distributions("behaviour", beta)
    uncovered = (np.broadcast_to(beta, pi.shape) == 0) & (pi > 0)
    if uncovered.any():
        idx = tuple(int(i) for i in np.argwhere(uncovered)[0])
        raise ValueError(f"behaviour must be > 0 wherever the policy is (importance ratios pi/behaviour); "
                         f"behaviour{list(idx[-2:])} = 0 but pi{list(idx)} = {pi[idx]:.3g}")
    return beta


def ratio_table(pi: np.ndarray, beta: np.ndarray, truncation=None) -> np.ndarray:
    """:math:`c(s,a) = \\min(\\bar c, \\pi/\\beta)` (0 where :math:`\\beta = 0`), shape of ``pi``."""
    beta = np.broadcast_to(beta, pi.shape)
    c = np.divide(pi, beta, out=np.zeros(pi.shape), where=beta > 0)
    return c if truncation is None else np.minimum(c, truncation)


def step_ratios(traj, pi: np.ndarray, beta: np.ndarray, truncation=None) -> np.ndarray:
    """:math:`c_t` at every step of ``traj`` ``(n, T)``; 1 at the steps after the episode stopped."""
    table = ratio_table(pi, beta, truncation)
    if table.ndim == 2:
        c = table[traj.states, traj.actions]
    else:
        c = table[np.arange(traj.T)[None, :], traj.states, traj.actions]
    return np.where(traj.mask, c, 1.0)


def _check_weighting(importance, reward_to_go: bool) -> None:
    check_importance(importance)
    if importance == "per_decision" and not reward_to_go:
        raise ValueError("importance='per_decision' needs reward_to_go=True (the total return puts every reward "
                         "on every score); use importance='trajectory' for the total return")


def importance_weights(traj, pi: np.ndarray, behaviour, G: np.ndarray, baseline_terms: np.ndarray,
                       reward_to_go: bool, importance: str = "per_decision", truncation=None) -> np.ndarray:
    """Step weights :math:`W_t` ``(n, T)`` of REINFORCE on trajectories from ``behaviour`` (module docstring).

    ``G (n, T)`` are the on-policy return weights (:math:`R(\\tau)` or the reward-to-go),
    ``baseline_terms (n, T)`` the :math:`\\gamma^t b_t(s_t)`; ``pi`` the target policy.
    """
    _check_weighting(importance, reward_to_go)
    beta = check_behaviour(pi if behaviour is None else behaviour, pi)
    w = np.cumprod(step_ratios(traj, pi, beta, truncation), axis=1)          # w_{0:t}
    if importance == "trajectory":
        return w[:, -1:] * (G - baseline_terms)
    weighted = w * traj.rewards * traj.discounts
    return np.cumsum(weighted[:, ::-1], axis=1)[:, ::-1] - w * baseline_terms


def importance_spec(spec: LinearSpec, pi: np.ndarray, behaviour, reward_to_go: bool,
                    importance: str = "per_decision", truncation=None) -> LinearSpec:
    """``spec`` on trajectories from ``behaviour``: the recursion's importance weight and action measures.

    Per-decision: ratios :math:`c_h` inside the recursion, paths drawn from :math:`\\beta`.
    Whole trajectory: :math:`\\mathbb E_\\beta[w\\,f] = \\sum_\\tau \\prod_t\\beta c_t\\cdots` and
    :math:`\\mathbb E_\\beta[w^2 f f^\\top] = \\sum_\\tau\\prod_t \\beta c_t^2\\cdots`: the on-policy recursion
    with action measure :math:`\\beta c` for the mean and :math:`\\beta c^2` for the second moment
    (both products over steps, so the recursion applies unchanged; neither need sum to 1).
    """
    _check_weighting(importance, reward_to_go)
    T, S, A = spec.weight.shape
    pi_T = np.broadcast_to(pi, (T, S, A))
    beta = np.broadcast_to(check_behaviour(pi if behaviour is None else behaviour, pi), (T, S, A))
    c = ratio_table(pi_T, beta, truncation)
    if importance == "per_decision":
        return replace(spec, importance=c, kernel=beta)
    return replace(spec, kernel=beta * c, second_kernel=beta * c ** 2)
