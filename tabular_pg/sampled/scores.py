"""The score-vector machinery every sampled estimator is built on.

An estimate is :math:`\\hat g_i = \\sum_t \\psi(s_{it}, a_{it}) W_{it}`, with
:math:`\\psi = \\nabla_\\theta \\log\\pi_\\theta` the score (as rows of :func:`score_rows`)
and :math:`W` a weight per step (:mod:`tabular_pg.sampled.estimators`).  Weights are
accumulated per (step,) state-action row, so no ``(n, T, d)`` array is built.
"""
from __future__ import annotations

import numpy as np

from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.rollout import StateActionSamples, Trajectories

__all__ = ["check_inputs", "required_mdp", "score_rows", "row_index", "weighted_scores", "row_weight_blocks",
           "CHUNK_ENTRIES"]


def required_mdp(mdp: FiniteMDP | None) -> FiniteMDP:
    """``mdp`` itself; ValueError if it is None (an estimator or baseline that needs the exact MDP)."""
    if mdp is None:
        raise ValueError(f"mdp (a FiniteMDP) is needed for this estimator/baseline; got {mdp!r}")
    return mdp


def check_inputs(traj, policy: Policy, theta, mdp: FiniteMDP | None, need_mdp: bool) -> np.ndarray:
    """Validate the data, policy, theta and (optional) MDP of an estimator; ``theta`` checked ``(d,)``."""
    if not isinstance(traj, (Trajectories, StateActionSamples)):
        raise TypeError(f"traj must be Trajectories or StateActionSamples; got {type(traj).__name__}")
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a tabular_pg Policy; got {type(policy).__name__}")
    if need_mdp:
        required_mdp(mdp)
    if mdp is not None and not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be None or a FiniteMDP; got {type(mdp).__name__}")
    for name, n in (("states", policy.n_states), ("actions", policy.n_actions)):
        x = getattr(traj, name)
        if x.size and x.max() >= n:
            idx = tuple(int(i) for i in np.argwhere(x >= n)[0])
            raise ValueError(f"traj.{name} must be < {n} (the policy's {name}); found {x[idx]} at {idx}")
    if mdp is not None and (mdp.n_states, mdp.n_actions) != (policy.n_states, policy.n_actions):
        raise ValueError(f"mdp has (S, A) = {(mdp.n_states, mdp.n_actions)}, policy "
                         f"{(policy.n_states, policy.n_actions)}")
    if mdp is not None and mdp.gamma != traj.gamma:
        raise ValueError(f"traj was sampled with gamma={traj.gamma}, mdp has gamma={mdp.gamma}")
    if policy.horizon is not None and not (isinstance(traj, Trajectories) and traj.T == policy.horizon):
        raise ValueError(f"a per-step policy (horizon {policy.horizon}) needs trajectories of exactly that "
                         f"many steps; got {type(traj).__name__} with T={getattr(traj, 'T', None)}")
    return policy.check_theta(theta)


def score_rows(policy: Policy, theta: np.ndarray) -> np.ndarray:
    """:math:`\\psi` as rows ``(K, d)``, K = S*A or H*S*A (per-step)."""
    return policy.score(theta).reshape(-1, policy.n_params)


def row_index(traj: Trajectories, policy: Policy) -> np.ndarray:
    """Row of :func:`score_rows` used at each step, shape ``(n, T)``."""
    idx = traj.states * policy.n_actions + traj.actions
    if policy.horizon is not None:
        idx = idx + (np.arange(traj.T) * policy.n_states * policy.n_actions)[None, :]
    return idx


def weighted_scores(traj: Trajectories, policy: Policy, theta, W: np.ndarray, per_trajectory: bool = False):
    """:math:`\\hat g_i = \\sum_t \\psi(s_{it}, a_{it}) W_{it}` over active steps: ``(d,)`` mean or ``(n, d)``.

    Weights are accumulated per (step,) state-action row, so no ``(n, T, d)`` array is built.
    """
    psi = score_rows(policy, theta)
    idx, w = row_index(traj, policy), np.where(traj.mask, W, 0.0)
    if per_trajectory:
        return np.concatenate([c @ psi for c in row_weight_blocks(idx, w, psi.shape[0])])
    return np.bincount(idx.ravel(), weights=w.ravel(), minlength=psi.shape[0]) @ psi / traj.n


#: Per-trajectory weight tables are built this many entries (trajectories x rows) at a time.
CHUNK_ENTRIES = 1 << 22


def row_weight_blocks(idx: np.ndarray, w: np.ndarray, K: int):
    """Per-trajectory sums of ``w`` per row ``idx``, as ``(chunk, K)`` blocks of trajectories."""
    step = max(1, CHUNK_ENTRIES // K)
    for start in range(0, idx.shape[0], step):
        i, x = idx[start:start + step], w[start:start + step]
        rows = (np.arange(i.shape[0])[:, None] * K + i).ravel()
        yield np.bincount(rows, weights=x.ravel(), minlength=i.shape[0] * K).reshape(i.shape[0], K)
