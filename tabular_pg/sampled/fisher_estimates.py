"""Sampled Fisher information: the outer-product estimator, Kakade's analytic blocks at the
sampled states, and the natural gradient from either (the solve of :mod:`tabular_pg.exact.fisher`).
"""
from __future__ import annotations

import numpy as np

from tabular_pg._checks import as_float_array, check_finite
from tabular_pg.exact.fisher import FisherMatrix, fisher_matrix
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.rollout import StateActionSamples, Trajectories
from tabular_pg.sampled.scores import check_inputs, row_index, row_weight_blocks, score_rows

__all__ = ["fisher", "fisher_step_weights", "fisher_state_weights", "analytic_fisher", "natural_gradient"]


def fisher(traj, policy: Policy, theta, mdp: FiniteMDP | None = None, per_trajectory: bool = False) -> np.ndarray:
    """Sampled Fisher matrix :math:`\\hat F`, shape ``(d, d)`` (or ``(n, d, d)`` per trajectory / sample).

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §3:
    :math:`F = \\mathbb E_{s\\sim d, a\\sim\\pi}[\\psi\\psi^\\top]`.  From
    ``StateActionSamples`` the plain average; from trajectories
    :math:`(1-\\gamma)\\sum_t\\gamma^t\\psi_t\\psi_t^\\top` (infinite horizon, unbiased up
    to truncation), :math:`\\sum_t \\psi_t\\psi_t^\\top` (finite horizon, the convention of
    :func:`tabular_pg.fisher_information`), or for ``gamma = 1`` episodes
    :math:`\\sum_{i,t}\\psi\\psi^\\top / \\sum_i L_i` (ratio estimator of :math:`d = \\tilde d/\\sum\\tilde d`).
    Episodes stop at terminal states, so their (irrelevant) blocks are not sampled: with
    terminal states the mean differs from :func:`tabular_pg.fisher_information` there only.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.rollout import rollout
    >>> mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> F = fisher(rollout(mdp, pol.probs(th), 10, np.random.default_rng(0)), pol, th)
    >>> bool(np.allclose(F, tpg.fisher_information(mdp, pol, th)))   # psi psi^T equal for both actions
    True
    """
    theta = check_inputs(traj, policy, theta, mdp, False)
    psi = score_rows(policy, theta)
    if isinstance(traj, StateActionSamples):
        rows = traj.states * policy.n_actions + traj.actions
        if per_trajectory:
            return psi[rows][:, :, None] * psi[rows][:, None, :]
        counts = np.bincount(rows, minlength=psi.shape[0]) / traj.n
        return (psi * counts[:, None]).T @ psi
    weights = fisher_step_weights(traj)
    idx = row_index(traj, policy)
    if per_trajectory:
        return np.concatenate([np.einsum("nk,ki,kj->nij", c, psi, psi)
                               for c in row_weight_blocks(idx, weights, psi.shape[0])])
    counts = np.bincount(idx.ravel(), weights=weights.ravel(), minlength=psi.shape[0]) / traj.n
    return (psi * counts[:, None]).T @ psi


def fisher_step_weights(traj: Trajectories) -> np.ndarray:
    """The weight of step ``t`` of each trajectory in the sampled Fisher matrix, shape ``(n, T)``.

    :math:`(1-\\gamma)\\gamma^t` (infinite horizon: the normalised discounted visitation
    :math:`d`), 1 (finite horizon: :math:`\\sum_h d_h`), or :math:`n / \\sum_i L_i` for
    ``gamma = 1`` episodes; 0 on padding.
    """
    if traj.horizon is not None:
        w = np.ones(traj.T)
    elif traj.gamma < 1:
        w = (1 - traj.gamma) * traj.discounts
    else:
        w = np.full(traj.T, traj.n / max(traj.mask.sum(), 1))
    return np.where(traj.mask, w[None, :], 0.0)


def fisher_state_weights(traj, policy: Policy) -> np.ndarray:
    """Sampled state weights :math:`\\hat w(s)` of the Fisher matrix, shape ``policy.probs_shape[:-1]``.

    :math:`\\hat w(s) = \\frac1n\\sum_i\\sum_t w_t 1[s_{it}=s]` with the weights of
    :func:`fisher_step_weights` (per (step, state) for a per-step policy); the fraction of
    samples at ``s`` for ``StateActionSamples``.  Its mean is the exact weight
    :math:`d(s)` of :func:`tabular_pg.fisher_information` (of the truncation).
    """
    if isinstance(traj, StateActionSamples):
        return np.bincount(traj.states, minlength=policy.n_states) / traj.n
    weights, key = fisher_step_weights(traj), traj.states
    size = policy.n_states
    if policy.horizon is not None:
        key, size = key + np.arange(traj.T)[None, :] * policy.n_states, size * policy.horizon
    w = np.bincount(key[traj.mask], weights=weights[traj.mask], minlength=size) / traj.n
    return w.reshape(policy.probs_shape[:-1])


def analytic_fisher(traj, policy: Policy, theta, mdp: FiniteMDP | None = None) -> FisherMatrix:
    """Sampled Fisher matrix with the action expectation taken analytically: blocks, never dense ``(SA, SA)``.

    Notes
    -----
    Kakade (2001), "A Natural Policy Gradient", and Schulman et al. (2015), "Trust Region
    Policy Optimization", §5: :math:`\\hat F = \\sum_s \\hat w(s)\\,\\mathbb E_{a\\sim\\pi_s}[\\psi\\psi^\\top]`
    at the sampled states :math:`\\hat w` (:func:`fisher_state_weights`).  For a tabular
    softmax the block at ``s`` is :math:`\\hat w(s)(\\mathrm{diag}\\,\\pi_s-\\pi_s\\pi_s^\\top)`:
    full rank ``A - 1`` at every sampled state (the outer product of the sampled scores,
    :func:`fisher`, has rank at most the number of distinct sampled actions).  Linear in
    :math:`\\hat w`, so its mean is exactly :func:`tabular_pg.fisher_information` (of the truncation).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> from tabular_pg.sampled.rollout import rollout
    >>> mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> F = analytic_fisher(rollout(mdp, pol.probs(th), 3, np.random.default_rng(0)), pol, th)
    >>> F.matrix.tolist()
    [[[0.25, -0.25], [-0.25, 0.25]]]
    """
    theta = check_inputs(traj, policy, theta, mdp, False)
    return fisher_matrix(policy, theta, fisher_state_weights(traj, policy))


def natural_gradient(g: np.ndarray, F) -> np.ndarray:
    """:math:`F^+ g` for a dense ``F (d, d)`` or a :class:`~tabular_pg.exact.fisher.FisherMatrix`.

    The NPG direction of Kakade (2001); the one solve of :meth:`FisherMatrix.solve`
    (eigenvalues below ``FISHER_RCOND`` times the largest are dropped).

    Examples
    --------
    >>> natural_gradient(np.array([1., 2.]), np.diag([2., 0.])).tolist()
    [0.5, 0.0]
    """
    g = as_float_array("g", g)
    check_finite("g", g)
    if isinstance(F, FisherMatrix):
        return F.solve(g)
    F = as_float_array("F", F)
    if g.ndim != 1 or F.shape != (g.size, g.size):
        raise ValueError(f"g must have shape (d,) and F shape (d, d); got g {g.shape}, F {F.shape}")
    check_finite("F", F)
    return FisherMatrix(F).solve(g)

