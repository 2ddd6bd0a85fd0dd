"""Baselines of the trajectory estimators, and the per-step exact quantities they use.

A baseline :math:`b_t(s)` is subtracted from the weight of :math:`\\psi_t` in value units
("Lecture 15: Policy Optimization with Trust Regions" §1, and "Policy Gradient (continued)",
"Variance reduction via a baseline": any action-independent baseline leaves the estimator unbiased):
the exact :math:`V_t` (``"value"``), a per-(step, state) average of the sampled returns (``"fitted"``, biased
because it reuses the samples), the exact variance-minimising :math:`b^*_t(s)` (``"optimal"``), or a constant.
"""
from __future__ import annotations

import numpy as np

from tabular_pg.exact.evaluation import Evaluation, evaluate
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.rollout import Trajectories

__all__ = ["BASELINES", "step_evaluation", "fitted_values", "optimal_baseline", "check_baseline",
           "baseline_values", "is_number", "values_at_visits"]

#: Named baselines (a float is a constant baseline; None means no baseline).
BASELINES = ("value", "fitted", "optimal")


def step_evaluation(mdp: FiniteMDP, pi: np.ndarray, T: int) -> Evaluation:
    """Exact per-step evaluation (``V (T, S)``, ``Q (T, S, A)``, ``d (T, S)``) on ``T`` steps.

    The MDP's own recursion for a finite horizon; for ``gamma < 1`` that of its truncation
    at ``T`` steps (the objective a length-``T`` rollout estimates); for ``gamma = 1``
    episodic tasks (rollouts run to termination, ``T`` is only the longest episode) the
    stationary ``V, Q, A`` repeated at every step, with the per-step occupancies ``d_t``.
    """
    if mdp.horizon is not None:
        return evaluate(mdp, pi)
    R = mdp.R if mdp.R_full is None else mdp.R_full
    P = mdp.P.copy() if mdp.is_sparse else mdp.P          # FiniteMDP.with_ fails on read-only CSR
    steps = evaluate(FiniteMDP(P, R, mdp.mu, mdp.gamma, horizon=int(T)), pi)
    if mdp.gamma < 1:
        return steps
    ev = evaluate(mdp, pi)
    V, Q = (np.broadcast_to(x, (int(T), *x.shape)) for x in (ev.V, ev.Q))
    return Evaluation(V=V, Q=Q, A=Q - V[..., None], d=steps.d, d_sa=steps.d_sa, visits=steps.visits,
                      J=ev.J, residual=ev.residual, solver=ev.solver, pi=steps.pi)


def values_at_visits(traj: Trajectories, V: np.ndarray) -> np.ndarray:
    """:math:`V_t(s_t)` for a per-step table ``V (T, S)``, shape ``(n, T)``."""
    return V[np.arange(traj.T)[None, :], traj.states]


def fitted_values(traj: Trajectories, n_states: int, reward_to_go: bool = True) -> np.ndarray:
    r"""Per-step, per-state least-squares fit of the batch's returns, shape ``(T, S)``.

    The average at each ``(t, s)`` of :math:`\gamma^{-t}\sum_{t'\ge t}\gamma^{t'} r_{t'}`
    (or of :math:`\gamma^{-t}R(\tau)` for the total return); 0 where no episode was at
    ``s`` at step ``t``.  Fitted on the same samples it is then used with, it makes the
    estimator biased (:func:`tabular_pg.sampled.moments.fitted_baseline_mean` gives the exact bias).
    """
    if traj.states.size and traj.states.max() >= n_states:
        raise ValueError(f"n_states must exceed every state in traj; got {n_states}, found state {traj.states.max()}")
    G = traj.rewards_to_go() if reward_to_go else np.broadcast_to(traj.returns()[:, None], traj.states.shape)
    G = np.divide(G, traj.discounts, out=np.zeros(G.shape), where=traj.discounts > 0)
    keys = (np.arange(traj.T)[None, :] * n_states + traj.states)[traj.mask]
    sums = np.bincount(keys, weights=G[traj.mask], minlength=traj.T * n_states)
    counts = np.bincount(keys, minlength=traj.T * n_states)
    return (sums / np.maximum(counts, 1)).reshape(traj.T, n_states)


def _past_rewards_given_state(ev: Evaluation, mdp: FiniteMDP) -> np.ndarray:
    """:math:`\\mathbb E[\\sum_{t'<t}\\gamma^{t'} r_{t'} \\mid s_t = s]`, shape ``(T, S)`` (forward recursion)."""
    T, S = ev.d.shape
    acc = np.zeros((T, S))                                     # E[past_t 1{s_t = s}]
    pis = np.broadcast_to(ev.pi, (T, S, mdp.n_actions))
    Pt = mdp.P_sa.T
    for t in range(T - 1):
        mass = (acc[t][:, None] + ev.visits[t][:, None] * mdp.R) * pis[t]
        acc[t + 1] = Pt @ mass.reshape(-1)
    return np.divide(acc, ev.d, out=np.zeros_like(acc), where=ev.d > 0)


def optimal_baseline(mdp: FiniteMDP, policy: Policy, theta, T: int, reward_to_go: bool = True) -> np.ndarray:
    """Exact per-step, per-state variance-minimising baseline :math:`b^*_t(s)`, shape ``(T, S)``.

    Notes
    -----
    The minimiser of :math:`\\mathbb E\\|\\psi_t(W_t - \\gamma^t b)\\|^2` given :math:`s_t=s` (the
    per-step variance; cross-step covariances are ignored, as in Greensmith et al. 2004):

    .. math:: b^*_t(s) = \\frac{\\mathbb E[\\|\\psi_t\\|^2 W_t \\mid s_t=s]}
                                {\\gamma^t\\,\\mathbb E[\\|\\psi_t\\|^2 \\mid s_t=s]},

    with :math:`\\mathbb E[W_t|s_t,a_t] = \\gamma^t Q_t(s_t,a_t)` for reward-to-go, plus the
    expected past return given :math:`s_t` for the total return ("Lecture 15: Policy Optimization with Trust Regions",
    baselines).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2)                 # |psi|^2 is the same for both actions,
    >>> optimal_baseline(mdp, pol, pol.initial(), 1).tolist()   # so b* = E[Q] = V
    [[0.5]]
    """
    theta = policy.check_theta(theta)
    ev = step_evaluation(mdp, policy.probs(theta), T)
    sq = np.broadcast_to((policy.score(theta) ** 2).sum(axis=-1), ev.Q.shape)
    w = ev.pi * sq
    num, den = (w * ev.Q).sum(axis=-1), w.sum(axis=-1)
    b = np.divide(num, den, out=ev.V.copy(), where=den > 0)
    if not reward_to_go:
        disc = mdp.gamma ** np.arange(T)[:, None]
        b = b + np.divide(_past_rewards_given_state(ev, mdp), disc, out=np.zeros_like(b), where=disc > 0)
    return b


def is_number(x) -> bool:
    """A real scalar that is not a bool."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, (bool, np.bool_))


def check_baseline(baseline) -> None:
    """ValueError unless ``baseline`` is None, a finite number, or one of :data:`BASELINES`."""
    if is_number(baseline):
        if not np.isfinite(baseline):
            raise ValueError(f"a constant baseline must be finite; got {baseline!r}")
    elif baseline is not None and not (isinstance(baseline, str) and baseline in BASELINES):
        raise ValueError(f"baseline must be None, a number, or one of {BASELINES}; got {baseline!r}")


def baseline_values(traj: Trajectories, policy: Policy, theta, baseline, mdp, reward_to_go: bool) -> np.ndarray:
    """:math:`b_t(s_t)` for every step, shape ``(n, T)`` (value units; the estimator scales by :math:`\\gamma^t`)."""
    if baseline is None:
        return np.zeros(traj.states.shape)
    if is_number(baseline):
        return np.full(traj.states.shape, float(baseline))
    if baseline == "fitted":
        return values_at_visits(traj, fitted_values(traj, policy.n_states, reward_to_go))
    if baseline == "value":
        return values_at_visits(traj, step_evaluation(mdp, policy.probs(theta), traj.T).V)
    if baseline == "optimal":
        return values_at_visits(traj, optimal_baseline(mdp, policy, theta, traj.T, reward_to_go))
    raise ValueError(f"baseline must be None, a number, or one of {BASELINES}; got {baseline!r}")
