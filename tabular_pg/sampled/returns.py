"""First-visit Monte Carlo tables of :math:`\\hat Q` and :math:`\\hat V`, with counts and without truncation bias.

A pair the batch never saw is *unknown*: its count is 0 and its entry is NaN (never 0,
which would read as "this action returns nothing").  Each (step,) state(-action) key
contributes at most one return per trajectory, the one of its first visit: by the
strong Markov property that return is an exact draw of the return from the key,
independent of how the trajectory got there, so the returns of one key are i.i.d. with
mean :math:`Q^\\pi` (or :math:`V^\\pi`) and the table's standard error is
:math:`\\sqrt{\\mathrm{Var}[G \\mid s,a] / N(s,a)}`.

Truncation: a rollout of an infinite-horizon MDP stops after ``T`` steps, so the return
from step ``t`` misses at most :math:`\\gamma^{T-t} r_{\\max}/(1-\\gamma)`.  Only visits with
:math:`\\gamma^{T-t} \\le` ``tail`` are used, so every kept return is biased by at most
``tail`` times the largest possible :math:`|Q|`, :math:`r_{\\max}/(1-\\gamma)`.  Whether a
visit is kept depends on ``t`` only (not on whether the episode ended later), which
keeps the selection independent of the future.  Episodes of a finite horizon, or of
``gamma = 1`` tasks run until termination, are not truncated and every visit is kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import freeze_fields
from tabular_pg.sampled.rollout import Trajectories

__all__ = ["ReturnTable", "return_table", "usable_steps", "TAIL"]

#: Default bound on :math:`\gamma^{T-t}`, the truncated share of a kept return.
TAIL = 1e-4


def usable_steps(traj: Trajectories, tail: float = TAIL) -> int:
    """Number of leading steps whose returns are kept: the ``t`` with :math:`\\gamma^{T-t} \\le` ``tail``.

    Examples
    --------
    >>> z = np.zeros((1, 100), int)
    >>> usable_steps(Trajectories(z, z, z.astype(float), z == 0, gamma=0.9), tail=0.9 ** 40)
    61
    """
    if isinstance(tail, bool) or not isinstance(tail, (int, float, np.floating)) or not 0 < tail < 1:
        raise ValueError(f"tail must be a number in (0, 1); got {tail!r}")
    if traj.horizon is not None or traj.gamma == 1.0 or traj.gamma == 0.0:
        return traj.T
    lag = int(np.ceil(np.log(tail) / np.log(traj.gamma) - 1e-12))     # smallest k with gamma^k <= tail
    return max(0, traj.T - lag + 1)


@dataclass(frozen=True, eq=False)
class ReturnTable:
    """First-visit mean returns per (step,) state(-action); NaN where the count is 0; arrays read-only.

    Attributes
    ----------
    Q, Q_counts : ndarray (S, A), or (H, S, A) per step on a finite horizon
        :math:`\\hat Q(s,a)`, the mean of the first-visit returns
        :math:`G_t = \\sum_{t'\\ge t}\\gamma^{t'-t} r_{t'}` of the pair, and their number.
    V, V_counts : ndarray (S,), or (H, S)
        :math:`\\hat V(s)`, the mean first-visit return of the state, and its count.
    Q_second : ndarray, shape of ``Q``
        Mean of :math:`G^2` (NaN where unseen): with ``Q`` the sample variance.
    """

    Q: np.ndarray
    Q_counts: np.ndarray
    V: np.ndarray
    V_counts: np.ndarray
    Q_second: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("Q", "Q_counts", "V", "V_counts", "Q_second"))

    @property
    def Q_seen(self) -> np.ndarray:
        """Boolean mask of the pairs with at least one kept return, shape of ``Q``."""
        return self.Q_counts > 0


def _first_visit_means(traj: Trajectories, key: np.ndarray, size: int, G: np.ndarray, keep: np.ndarray):
    """Count, mean and mean square of ``G`` over the first visit of each key per trajectory."""
    flat = (np.arange(traj.n)[:, None] * size + key)[traj.mask]
    _, first = np.unique(flat, return_index=True)                     # row-major: earliest t per (i, key)
    first = first[keep[traj.mask][first]]
    k, g = key[traj.mask][first], G[traj.mask][first]
    counts = np.bincount(k, minlength=size).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(k, weights=g, minlength=size) / counts
        second = np.bincount(k, weights=g * g, minlength=size) / counts
    return counts, mean, second


def return_table(traj: Trajectories, n_states: int, n_actions: int, tail: float = TAIL) -> ReturnTable:
    """First-visit Monte Carlo :math:`\\hat Q, \\hat V` of the policy that sampled ``traj``.

    Parameters
    ----------
    traj : Trajectories
        ``n`` trajectories, shape ``(n, T)``.
    n_states, n_actions : int
        Table sizes ``S`` and ``A``.
    tail : float in (0, 1)
        Keep only visits with :math:`\\gamma^{T-t} \\le` ``tail`` (see the module docstring).

    Returns
    -------
    ReturnTable
        Per (step,) key on a finite horizon, shapes ``(H, S, A)`` and ``(H, S)``.

    Notes
    -----
    First-visit Monte Carlo prediction (Sutton & Barto 2018, §5.1 and §5.2):
    :math:`\\hat Q(s,a) = \\frac{1}{N(s,a)}\\sum_{i:\\,(s,a)\\in\\tau_i} G_{i,t_i(s,a)}` with
    :math:`t_i(s,a)` the first visit; :math:`\\mathbb E[\\hat Q(s,a) \\mid N(s,a)] = Q^\\pi(s,a)`
    up to the truncation bound above.

    Examples
    --------
    >>> s = np.array([[0, 1, 0]]); a = np.array([[0, 0, 0]]); r = np.array([[1., 2., 4.]])
    >>> tab = return_table(Trajectories(s, a, r, s >= 0, gamma=0.5), 2, 2, tail=0.5)
    >>> float(tab.Q[0, 0]), float(tab.Q[1, 0]), int(tab.Q_counts[0, 0]), bool(np.isnan(tab.Q[0, 1]))
    (3.0, 4.0, 1, True)
    """
    if not isinstance(traj, Trajectories):
        raise TypeError(f"traj must be Trajectories; got {type(traj).__name__}")
    disc = traj.discounts
    G = np.divide(traj.rewards_to_go(), disc, out=np.zeros(traj.states.shape), where=disc > 0)
    keep = np.broadcast_to(np.arange(traj.T) < usable_steps(traj, tail), traj.states.shape)
    stepwise = traj.horizon is not None
    lead = (traj.T,) if stepwise else ()
    step = np.arange(traj.T)[None, :] if stepwise else 0
    out = {}
    for name, key, size in (("Q", traj.states * n_actions + traj.actions, n_states * n_actions),
                            ("V", traj.states, n_states)):
        counts, mean, second = _first_visit_means(traj, key + step * size, size * (traj.T if stepwise else 1),
                                                  G, keep)
        shape = lead + ((n_states, n_actions) if name == "Q" else (n_states,))
        out[name], out[name + "_counts"] = mean.reshape(shape), counts.reshape(shape)
        if name == "Q":
            out["Q_second"] = second.reshape(shape)
    return ReturnTable(**out)
