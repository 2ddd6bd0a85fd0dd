"""Reward-weighted regression: EM policy search with a closed-form M-step
("Lecture 6: The Policy Gradient", §3.4 and §5).

The EM view of "Lecture 6: The Policy Gradient" §5 (eq. 37-40; Peters & Schaal 2007, "Reinforcement
learning by reward-weighted regression for operational space control"): for returns
:math:`R(\\tau) \\ge 0`,

.. math:: \\log J(\\theta) \\ge \\mathcal L(\\theta; q)
          = \\mathbb E_q[\\log R(\\tau) + \\log p_\\theta(\\tau) - \\log q(\\tau)],

with equality at :math:`q = R\\,p_{\\theta_t}/J(\\theta_t)` (E-step).  The M-step maximises
:math:`\\mathbb E_q[\\log p_\\theta(\\tau)] = \\tfrac{1}{J_t}\\sum_{s,a} N(s,a)\\log\\pi_\\theta(a|s)`, with the
return-weighted counts

.. math:: N(s,a) = \\mathbb E_{\\pi_t}\\Big[R(\\tau)\\sum_t 1\\{s_t = s, a_t = a\\}\\Big],

so a tabular policy refits in closed form, :math:`\\pi_{t+1}(a|s) \\propto N(s,a)` (weighted
behaviour cloning, §3.4), and :math:`J(\\theta_{t+1}) \\ge J(\\theta_t)`.

Trajectories.  On a finite horizon :math:`R = \\sum_{t<H}\\gamma^t r_t` over ``H`` steps.  With an
infinite horizon the discount is read as termination: an episode ends after each step with
probability :math:`1-\\gamma`, independently of the policy, and :math:`R = \\sum_{t<T} r_t` over its
length ``T`` (so :math:`\\mathbb E[R] = J`; ``gamma = 1``: the episode ends at a terminal state).

Exact counts (one transposed solve, or a forward sweep): rewards before step t do not depend on
:math:`a_t` given :math:`s_t`, rewards from t on have mean :math:`Q`, so

.. math:: N(s,a) = \\pi(a|s)\\,[\\rho(s) + \\tilde d(s) Q(s,a)], \\qquad
          (I - \\gamma P_\\pi^\\top)\\rho = \\gamma \\Big[\\sum_{s,a} \\tilde d(s)\\pi(a|s) r(s,a) P(s'|s,a)\\Big]_{s'},

:math:`\\rho(s) = \\sum_t\\gamma^t\\mathbb E[1\\{s_t=s\\}\\sum_{t'<t} r_{t'}]` the reward collected
before reaching s; on a finite horizon
:math:`\\rho_{h+1}(s') = \\sum_{s,a}\\pi_h(a|s)P(s'|s,a)[\\rho_h(s) + \\gamma^h d_h(s) r(s,a)]`
and :math:`N_h = \\pi_h(\\rho_h + \\gamma^h d_h Q_h)`.  Sampled counts: the same sums over the batch, a
step weighted by :math:`\\sum_{t'}\\gamma^{\\max(t,t')}r_{t'}` (infinite horizon) or by :math:`R(\\tau)`.

Positive returns.  Every return must be :math:`\\ge 0` (§5 assumes it "without loss of
generality").  ``shift = c`` adds c to every reward: the return changes by
:math:`c\\sum_{t<H}\\gamma^t` (finite horizon) or by :math:`cT` with :math:`\\mathbb E[T] = 1/(1-\\gamma)`,
both independent of the policy, so the maximiser of J is unchanged (``gamma = 1`` without a
horizon: T depends on the policy, and a shift is refused).  Unshifted negative rewards
(exact) or a negative return (sampled) raise ValueError naming the value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import real
from tabular_pg.algorithms.answers import ExactAnswers
from tabular_pg.algorithms.run import Algorithm
from tabular_pg.exact.evaluation import policy_transitions
from tabular_pg.exact.hessian import resolvent
from tabular_pg.policies import Direct, TabularSoftmax

__all__ = ["RewardWeightedRegression", "return_weighted_counts", "em_lower_bound", "m_step", "LOG_FLOOR"]

#: Logit of an action the M-step gives probability 0 (exp(-1000) is 0 in float64).
LOG_FLOOR = -1000.0


def _finite_shift(shift) -> float:
    """``shift`` as a finite float: TypeError for a non-number, ValueError for inf or NaN."""
    real("shift", shift)
    if not np.isfinite(shift):
        raise ValueError(f"shift must be finite; got {shift!r}")
    return float(shift)


def _check_shift(mdp, shift) -> float:
    shift = _finite_shift(shift)
    if shift != 0 and mdp.horizon is None and mdp.gamma == 1:
        raise ValueError("shift must be 0 with gamma = 1 and no horizon: the episode length depends on the policy, "
                         "so shifting the rewards would change which policy is best")
    return float(shift)


def _negative(what: str, value: float, shift: float):
    return ValueError(f"RewardWeightedRegression needs non-negative returns; found {what} {value:g}"
                      f"{f' with shift = {shift:g}' if shift else ''}: pass a shift of at least {-value + shift:g}")


def _span(mdp) -> np.ndarray:
    """What a unit shift of the rewards adds to Q: :math:`\\sum_{k<H-h}\\gamma^k` per step h,
    or :math:`1/(1-\\gamma)`."""
    if mdp.horizon is None:          # gamma = 1: the shift is 0 (_check_shift)
        return np.array(1.0 / (1.0 - mdp.gamma) if mdp.gamma < 1 else 0.0)
    return np.cumsum(mdp.gamma ** np.arange(mdp.horizon))[::-1].copy()


def _exact_counts(answers: ExactAnswers, shift: float):
    """``(N, J')`` from the exact evaluation: ``N`` of the shape of Q, ``J' = E[R]`` of the shifted rewards."""
    mdp, ev = answers.mdp, answers.evaluation
    R = mdp.R if mdp.R_full is None else mdp.R_full
    low = float(np.min(R.data if sp.issparse(R) else R, initial=0.0))
    if low + shift < 0:
        raise _negative("the reward", low + shift, shift)
    span = _span(mdp)
    pi = np.broadcast_to(ev.pi, ev.Q.shape)
    Q = ev.Q + shift * (span[:, None, None] if span.ndim else span)
    earned = (ev.visits[..., None] * pi * (mdp.R + shift)).reshape(*ev.visits.shape[:-1], -1)   # x(s) pi(a|s) r(s,a)
    P_T = mdp.P_sa.T
    if mdp.horizon is not None:
        rho: np.ndarray = np.zeros(ev.visits.shape)
        for h in range(mdp.horizon - 1):
            rho[h + 1] = policy_transitions(mdp, pi[h]).T @ rho[h] + P_T @ earned[h]
    else:
        fac, keep = resolvent(mdp, ev.pi)
        rho = np.zeros(mdp.n_states)
        rho[keep] = fac.solve(mdp.gamma * (P_T @ earned)[keep], transpose=True)
    return pi * (rho[..., None] + ev.visits[..., None] * Q), ev.J + shift * float(span.max())


def _sampled_counts(answers, shift: float):
    """``(N, J')`` from the answers' trajectories: ``N`` of shape ``(T, S, A)`` or ``(S, A)``."""
    traj, mdp = answers.traj, answers.mdp
    r = np.where(traj.mask, traj.rewards + shift, 0.0)
    disc = traj.discounts
    R = (r * disc).sum(axis=1)
    if traj.horizon is None:            # termination with probability 1 - gamma after each step
        partial = np.cumsum(r, axis=1)
        low = float(partial[traj.mask].min(initial=0.0))
        to_go = np.cumsum((r * disc)[:, ::-1], axis=1)[:, ::-1]
        w = disc * (partial - r) + to_go
    else:
        low, w = float(R.min(initial=0.0)), np.broadcast_to(R[:, None], r.shape)
    if low < 0:
        raise _negative("the sampled return", low, shift)
    S, A = mdp.n_states, mdp.n_actions
    key = traj.states * A + traj.actions
    stepwise = answers.policy.horizon is not None
    if stepwise:
        key = key + np.arange(traj.T)[None, :] * S * A
    N = np.bincount(key[traj.mask], weights=w[traj.mask], minlength=S * A * (traj.T if stepwise else 1)) / traj.n
    return N.reshape(((traj.T,) if stepwise else ()) + (S, A)), float(R.mean())


def return_weighted_counts(answers, shift: float = 0.0):
    """The E-step: ``(N, J')``, :math:`N(s,a) = \\mathbb E[R(\\tau)\\sum_t 1\\{s_t=s,a_t=a\\}]` and
    :math:`J' = \\mathbb E[R]`.

    ``N`` has ``answers.policy.probs_shape`` (a stationary policy sums the steps of a finite
    horizon); exact from :class:`~tabular_pg.algorithms.answers.ExactAnswers` (the module's
    formulas: one transposed solve), averaged over the batch from sampled answers.  ``shift``
    is added to every reward first (see the module notes).
    """
    shift = _check_shift(answers.mdp, shift)
    N, J = (_exact_counts if isinstance(answers, ExactAnswers) else _sampled_counts)(answers, shift)
    if N.ndim > len(answers.policy.probs_shape):
        N = N.sum(axis=0)
    if not J > 0:
        raise ValueError(f"RewardWeightedRegression needs a positive expected return E[R]; got {J:g} "
                         "(every return is 0: raise the shift)")
    return N, J


def m_step(policy, N: np.ndarray, pi_old: np.ndarray) -> np.ndarray:
    """The parameters of :math:`\\pi(a|s) \\propto N(s,a)` (``pi_old`` where a state has no weight), shape ``(d,)``.

    The maximiser of :math:`\\sum_{s,a} N(s,a)\\log\\pi(a|s)` over all policies (Gibbs' inequality):
    ``Direct`` takes it as is, a ``TabularSoftmax`` its logarithm (:data:`LOG_FLOOR` for a zero).
    """
    total = N.sum(axis=-1, keepdims=True)
    pi = np.where(total > 0, N / np.where(total > 0, total, 1.0), pi_old)
    if isinstance(policy, Direct):
        return pi.reshape(-1)
    if isinstance(policy, TabularSoftmax):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(pi), LOG_FLOOR).reshape(-1)
    raise TypeError(f"RewardWeightedRegression has a closed-form M-step for TabularSoftmax and Direct policies; "
                    f"got {type(policy).__name__}")


def em_lower_bound(N: np.ndarray, J: float, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """:math:`\\mathcal L(\\pi_{new}; q_t) = \\log J_t
    + \\tfrac{1}{J_t}\\sum_{s,a} N(s,a)[\\log\\pi_{new} - \\log\\pi_t](a|s)`.

    "Lecture 6: The Policy Gradient" eq. (39) at the E-step's :math:`q_t = R\\,p_{\\pi_t}/J_t` (the
    transitions cancel): :math:`\\le \\log J(\\pi_{new})` for every policy, :math:`= \\log J_t` at
    :math:`\\pi_t`.  ``N, J`` from :func:`return_weighted_counts` at :math:`\\pi_t`.
    """
    on = N > 0
    with np.errstate(divide="ignore"):
        gain = N[on] @ (np.log(pi_new[on]) - np.log(pi_old[on]))
    return float(np.log(J) + gain / J)


@dataclass(frozen=True)
class RewardWeightedRegression(Algorithm):
    """EM policy search: :math:`\\pi_{t+1}(a|s) \\propto \\mathbb E_{\\pi_t}[R(\\tau)\\sum_t 1\\{s_t=s,a_t=a\\}]`.

    Parameters
    ----------
    shift : float
        Added to every reward before weighting (default 0): returns must be non-negative
        (module notes; ValueError otherwise).  ``shift = -min r`` makes any MDP with a horizon
        or ``gamma < 1`` admissible without changing its optimal policies.

    Notes
    -----
    "Lecture 6: The Policy Gradient" §3.4 (policy gradient as reward-weighted behaviour
    cloning) and §5 (EM, eq. 37-40); Peters & Schaal 2007.  With an
    :class:`~tabular_pg.algorithms.oracles.ExactOracle` the E-step is exact and J never
    decreases (the EM bound, checked on every iterate in ``tests/test_rwr.py``); with a
    :class:`~tabular_pg.algorithms.oracles.SampledOracle` the counts are the batch's
    return-weighted visit counts.  A fixed point has :math:`A(s,a) = 0` wherever
    :math:`\\tilde d(s)\\pi(a|s) > 0`: a stationary point of policy gradient.  Closed-form M-step
    for ``TabularSoftmax`` (per-step too) and ``Direct``; other parameterisations raise TypeError.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> th, _ = RewardWeightedRegression().update(pol, pol.initial(), tpg.ExactOracle(mdp), None, None)
    >>> pol.probs(th).round(4).tolist()          # pi(a) r(a) / sum_b pi(b) r(b)
    [[0.125, 0.3125, 0.5625]]
    """

    shift: float = 0.0

    def __post_init__(self):
        _finite_shift(self.shift)

    def update(self, policy, theta, oracle, state, rng):
        answers = oracle.query(policy, theta)
        N, _ = return_weighted_counts(answers, self.shift)
        return m_step(policy, N, answers.pi), state
