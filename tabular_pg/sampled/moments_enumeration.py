"""Brute-force oracle: every trajectory of a tiny MDP with its probability.

The test oracle for :mod:`tabular_pg.sampled.moments`: the exact mean and covariance of an
estimator as the probability-weighted average over **all** trajectories, each evaluated
by the sampled estimator of :mod:`tabular_pg.sampled.estimators` (``per_trajectory=True``).
Exponential in the horizon: for MDPs with a handful of states, actions and steps only.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tabular_pg.exact.evaluation import check_policy
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.registry import estimate
from tabular_pg.sampled.rollout import Trajectories

__all__ = ["enumerate_trajectories", "brute_force_moments"]


def _full_rewards(mdp: FiniteMDP) -> np.ndarray:
    """``r(s, a, s')`` as a dense ``(S, A, S)`` array (expected reward broadcast if no full rewards)."""
    S, A = mdp.n_states, mdp.n_actions
    if mdp.R_full is None:
        return np.broadcast_to(mdp.R[:, :, None], (S, A, S))
    R = mdp.R_full if isinstance(mdp.R_full, np.ndarray) else mdp.R_full.toarray()     # dense, or sparse
    return np.asarray(R).reshape(S, A, S)


def enumerate_trajectories(mdp: FiniteMDP, pi, T: int) -> tuple[Trajectories, np.ndarray]:
    """All ``T``-step trajectories of positive probability, and their probabilities ``(m,)``.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), [1., 0.], 1.0, horizon=2)
    >>> traj, p = enumerate_trajectories(mdp, np.full((2, 2), 0.5), 2)
    >>> traj.n, float(p.sum())
    (16, 1.0)
    """
    pi = check_policy(mdp, pi)
    S, A = mdp.n_states, mdp.n_actions
    P = np.asarray(sp.csr_matrix(mdp.P_sa).toarray()).reshape(S, A, S)
    R = _full_rewards(mdp)
    terminal = np.zeros(S, dtype=bool)
    terminal[mdp.terminal_states()] = True
    pis = np.broadcast_to(pi, (T, S, A))
    cur = np.flatnonzero(mdp.mu > 0)
    prob = mdp.mu[cur]
    hist = np.zeros((cur.size, 0, 4))                            # (s, a, r, active) per step
    for t in range(T):
        branch = (pis[t][:, :, None] * P).reshape(S, A * S)[cur]  # (m, A*S)
        branch[terminal[cur]] = np.eye(A * S)[cur[terminal[cur]]]  # stopped: one branch, a=0, s'=s
        row, col = np.nonzero(branch)
        a, s_next = np.divmod(col, S)
        step = np.stack([cur[row], a, R[cur[row], a, s_next], ~terminal[cur[row]]], axis=1)
        hist = np.concatenate([hist[row], step[:, None, :]], axis=1)
        prob, cur = prob[row] * branch[row, col], s_next
    traj = Trajectories(hist[:, :, 0].astype(int), hist[:, :, 1].astype(int), hist[:, :, 2],
                        hist[:, :, 3].astype(bool), mdp.gamma, mdp.horizon)
    return traj, prob


def brute_force_moments(mdp: FiniteMDP, policy: Policy, theta, estimator: str = "reinforce", T: int | None = None,
                        **options) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean ``(d,)`` and covariance ``(d, d)`` of a trajectory estimator by enumeration.

    ``T`` defaults to the MDP's horizon (needed for infinite horizons: the truncation).  With the
    option ``behaviour``, the trajectories and their probabilities are those of the behaviour policy.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.registry import estimator_moments
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1., 0.], [0., 2.]], [1., 0.], 0.9, horizon=3)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([.3, -.2, .1, .5])
    >>> m, C = brute_force_moments(mdp, pol, th, "reinforce", reward_to_go=True)
    >>> m2, C2 = estimator_moments(mdp, pol, th, "reinforce", reward_to_go=True)
    >>> bool(np.allclose(m, m2, rtol=1e-12) and np.allclose(C, C2, rtol=1e-12))
    True
    """
    T = mdp.horizon if T is None else T
    if T is None:
        raise ValueError("T is needed for an infinite-horizon MDP (the truncation to enumerate)")
    theta = policy.check_theta(theta)
    behaviour = options.get("behaviour")                        # off-policy: the paths of the behaviour policy
    traj, p = enumerate_trajectories(mdp, policy.probs(theta) if behaviour is None else behaviour, T)
    g = estimate(traj, policy, theta, estimator, mdp=mdp, per_trajectory=True, **options)
    g = g.reshape(g.shape[0], -1)                                # the Fisher estimator is matrix-valued
    mean = p @ g
    centred = g - mean
    return mean, (centred * p[:, None]).T @ centred
