"""The tabular critic of sampled actor-critic methods: a value table fitted on one batch.

PPO (Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 11-12) and
GAE (Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized
Advantage Estimation", eq. 16) need a state-value estimate :math:`V(s)`.  For a tabular
MDP the least-squares critic has a closed form: the weighted mean, per state, of the
sampled discounted returns-to-go.  The advantages themselves come from the one GAE of
:func:`tabular_pg.sampled.estimators.gae_advantages`.
"""
from __future__ import annotations

import numpy as np

from tabular_pg.mdp import FiniteMDP
from tabular_pg.sampled.baselines import fitted_values, step_evaluation
from tabular_pg.sampled.rollout import Trajectories

__all__ = ["GAE_VALUES", "fitted_critic", "critic_values"]

#: Critics of :func:`critic_values`: fitted on the batch, or the exact :math:`V_t` (a perfect critic).
GAE_VALUES = ("fitted", "exact")


def fitted_critic(traj: Trajectories, n_states: int, stepwise: bool) -> np.ndarray:
    r"""The batch's least-squares tabular critic, shape ``(T, S)``.

    Parameters
    ----------
    traj : Trajectories
        One batch, ``(n, T)`` steps.
    n_states : int
        ``S``; every state of ``traj`` must be below it.
    stepwise : bool
        True on a finite horizon: :math:`V_t(s)` per step, the per-``(t, s)`` mean of
        :func:`tabular_pg.sampled.baselines.fitted_values`.  False (infinite horizon): one
        stationary :math:`V(s)` repeated at every step.

    Notes
    -----
    Stationary case: the minimiser of :math:`\sum_{i,t}\gamma^t (G_{it} - V(s_{it}))^2`,
    :math:`G_{it} = \sum_{t'\ge t}\gamma^{t'-t} r_{it'}`, i.e.

    .. math:: V(s) = \frac{\sum_{i,t} \gamma^t G_{it} 1[s_{it}=s]}{\sum_{i,t}\gamma^t 1[s_{it}=s]},

    the critic loss weighted by the discounted visitation :math:`\tilde d` that also weights
    the surrogate.  The weight :math:`\gamma^t` makes the truncation of the rollout
    harmless: a visit at step ``t`` misses at most ``tol``:math:`/\gamma^t` of return, so
    its weighted error is at most ``tol``.  For ``gamma = 1`` episodes every visit weighs 1.
    Unvisited states (and unvisited ``(t, s)``) get 0: GAE only looks :math:`V` up at the
    states the batch visited, so the value there never enters an advantage.

    Examples
    --------
    >>> import numpy as np
    >>> traj = Trajectories(states=[[0, 1, 0]], actions=[[0, 0, 0]], rewards=[[1., 2., 4.]],
    ...                     mask=[[True, True, True]], gamma=0.5)
    >>> fitted_critic(traj, 3, stepwise=False)[0].tolist()  # s=0: (1 * 3 + 0.25 * 4) / 1.25; s=1: 2 + 0.5 * 4
    [3.2, 4.0, 0.0]
    """
    if stepwise:
        return fitted_values(traj, n_states)
    if traj.states.size and traj.states.max() >= n_states:
        raise ValueError(f"n_states must exceed every state in traj; got {n_states}, found state {traj.states.max()}")
    G = np.divide(traj.rewards_to_go(), traj.discounts, out=np.zeros(traj.states.shape), where=traj.discounts > 0)
    w = np.where(traj.mask, traj.discounts[None, :], 0.0)
    sums = np.bincount(traj.states.ravel(), weights=(w * G).ravel(), minlength=n_states)
    mass = np.bincount(traj.states.ravel(), weights=w.ravel(), minlength=n_states)
    V = np.divide(sums, mass, out=np.zeros(n_states), where=mass > 0)
    return np.broadcast_to(V, (traj.T, n_states)).copy()


def critic_values(traj: Trajectories, critic: str, n_states: int, mdp: FiniteMDP | None = None,
                  pi: np.ndarray | None = None) -> np.ndarray:
    """:math:`V_t(s)` of the named GAE critic for the batch ``traj`` of :math:`\\pi`, shape ``(T, S)``.

    ``"fitted"``: :func:`fitted_critic` (stepwise on a finite horizon); ``"exact"``: the exact
    :math:`V_t` of the ``T``-step truncation (:func:`tabular_pg.sampled.baselines.step_evaluation`,
    needs ``mdp`` and ``pi (S, A)``), which leaks exact information into sampled answers (for
    tests and ablations).
    """
    if critic == "fitted":
        return fitted_critic(traj, n_states, traj.horizon is not None)
    if critic == "exact":
        if mdp is None or pi is None:
            raise ValueError(f"critic='exact' needs mdp and pi; got mdp={type(mdp).__name__}, pi={type(pi).__name__}")
        return step_evaluation(mdp, pi, traj.T).V
    raise ValueError(f"critic must be one of {GAE_VALUES}; got {critic!r}")
