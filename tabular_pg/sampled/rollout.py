"""Vectorised rollouts: a batch of trajectories advanced together, one numpy step per time step.

All ``n`` trajectories move in lock-step.  Start states, actions and successors are drawn
exactly by the row samplers of :mod:`tabular_pg.sampled.samplers` from the CSR rows of ``P``
(no dense row is ever built), so dense and sparse MDPs share one code path: a padded
cumulative table for narrow rows, alias tables for wide ones (``method="auto"``).  The
successor tables are built once per MDP; a new policy rebuilds only its ``(S, A)`` table.
Episodes stop at the zero-reward absorbing (terminal) states of the MDP; later steps are masked.
Randomness comes only from the ``rng`` argument.

Horizons: the MDP's own ``horizon`` when it has one; otherwise a truncation ``T`` at which
the neglected discounted return is below ``tol`` (:func:`truncation_horizon`), or, for
``gamma = 1`` episodic tasks, until every episode has terminated.  The
state-action samples :math:`(s, a) \\sim d^\\pi` of "Lecture 15: Policy Optimization with Trust Regions" come from
geometric
stopping (:func:`sample_visitation`), which is exactly unbiased.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import (
    as_float_array,
    check_finite,
    check_gamma,
    check_horizon,
    check_rng,
    positive_int,
    readonly,
    real,
    sealed,
)
from tabular_pg.exact.evaluation import check_policy, never_terminating_states, policy_transitions
from tabular_pg.mdp import FiniteMDP, reachable
from tabular_pg.sampled.samplers import METHODS, sampler

__all__ = ["Trajectories", "StateActionSamples", "rollout", "sample_visitation",
           "truncation_horizon", "reward_bound"]

#: Default bound on the discounted return neglected by truncating an infinite horizon.
TRUNCATION_TOL = 1e-8
#: Episodic (gamma = 1, no horizon) rollouts stop with an error after this many steps.
MAX_EPISODE_STEPS = 1_000_000
#: Uniforms are drawn and steps walked a chunk at a time: ~CHUNK_DRAWS (step, trajectory) pairs (in
#: cache), at most MAX_CHUNK_STEPS steps (how far episodes of unknown length draw ahead).
CHUNK_DRAWS, MAX_CHUNK_STEPS = 2 ** 15, 64


def _indices(name: str, x) -> np.ndarray:
    """State or action indices as int32: integer-valued and >= 0 (a float 0.5 is not truncated to 0)."""
    arr = as_float_array(name, x) if np.asarray(x).dtype.kind not in "iub" else np.asarray(x)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must hold integer indices; found {arr[idx]} at {idx}")
    if arr.size and (arr.min() < 0 or arr.max() > np.iinfo(np.int32).max):
        idx = tuple(int(i) for i in np.argwhere((arr < 0) | (arr > np.iinfo(np.int32).max))[0])
        raise ValueError(f"{name} must hold indices in [0, 2**31); found {arr[idx]} at {idx}")
    return arr.astype(np.int32)


@dataclass(frozen=True, eq=False)
class Trajectories:
    """A batch of ``n`` trajectories padded to ``T`` steps; arrays read-only.

    Attributes
    ----------
    states, actions : ndarray of int32, shape (n, T)
        :math:`s_t, a_t`; entries past the end of an episode are padding.
    rewards : ndarray of float, shape (n, T)
        :math:`r_t` (``r(s,a,s')`` when the MDP has full rewards, else ``r(s,a)``), 0 past the end.
    mask : ndarray of bool, shape (n, T)
        True where step ``t`` belongs to the episode (``s_t`` not terminal).
    gamma : float
        Discount of the MDP the batch came from.
    horizon : int or None
        The MDP's finite horizon (per-step policies index steps by it), else None.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    gamma: float
    horizon: int | None = None

    def __post_init__(self):
        shape = np.shape(self.states)
        for name in ("actions", "rewards", "mask"):
            if np.shape(getattr(self, name)) != shape or len(shape) != 2:
                raise ValueError(f"Trajectories.{name} must have the shape (n, T) of states {shape}; "
                                 f"got {np.shape(getattr(self, name))}")
        for name in ("states", "actions"):
            object.__setattr__(self, name, readonly(_indices(f"Trajectories.{name}", getattr(self, name))))
        rewards = as_float_array("Trajectories.rewards", self.rewards)
        check_finite("Trajectories.rewards", rewards)
        mask = np.asarray(self.mask)
        if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
            raise ValueError("Trajectories.mask must hold booleans (or 0/1)")
        object.__setattr__(self, "rewards", readonly(rewards))
        object.__setattr__(self, "mask", readonly(mask.astype(bool)))
        object.__setattr__(self, "gamma", check_gamma(self.gamma))
        object.__setattr__(self, "horizon", check_horizon(self.horizon))
        if not self.mask.all():
            object.__setattr__(self, "rewards", readonly(np.where(self.mask, self.rewards, 0.0)))

    @classmethod
    def sampled(cls, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, mask: np.ndarray,
                gamma: float, horizon: int | None) -> Trajectories:
        """Wrap arrays a sampler has just produced (and alone holds), without validating or copying.

        For :func:`rollout`: int32 ``states``/``actions``, float ``rewards`` already 0 past
        the end, bool ``mask``, all of shape ``(n, T)``, ``gamma`` and ``horizon`` checked.
        The arrays are frozen in place (:func:`~tabular_pg._checks.sealed`); validating
        and copying them was a quarter of a FrozenLake rollout.
        """
        traj = object.__new__(cls)
        fields = sealed(states=states, actions=actions, rewards=rewards, mask=mask)
        for name, value in dict(fields, gamma=gamma, horizon=horizon).items():
            object.__setattr__(traj, name, value)
        return traj

    @property
    def n(self) -> int:
        return self.states.shape[0]

    @property
    def T(self) -> int:
        return self.states.shape[1]

    @property
    def lengths(self) -> np.ndarray:
        """Number of steps of each episode, shape ``(n,)``."""
        return self.mask.sum(axis=1)

    @property
    def discounts(self) -> np.ndarray:
        """:math:`\\gamma^t`, shape ``(T,)``."""
        return self.gamma ** np.arange(self.T)

    def returns(self) -> np.ndarray:
        """Discounted returns :math:`R(\\tau) = \\sum_t \\gamma^t r_t`, shape ``(n,)`` ("Lecture 6: The Policy
        Gradient" eq. 3)."""
        return self.rewards @ self.discounts

    def rewards_to_go(self) -> np.ndarray:
        """:math:`\\sum_{t' \\ge t} \\gamma^{t'} r_{t'}` (full discount from 0), shape ``(n, T)``."""
        discounted = self.rewards * self.discounts
        return np.cumsum(discounted[:, ::-1], axis=1)[:, ::-1]


@dataclass(frozen=True, eq=False)
class StateActionSamples:
    """``n`` samples :math:`(s, a) \\sim d^\\pi` with a Monte Carlo :math:`\\hat Q(s, a)` each.

    Attributes
    ----------
    states, actions : ndarray of int, shape (n,)
    q_returns : ndarray of float, shape (n,)
        :math:`\\hat Q = \\sum_{k=0}^{K} r_{t+k}` with :math:`K \\sim \\mathrm{Geom}(1-\\gamma)`
        independent: :math:`\\mathbb E[\\hat Q \\mid s, a] = Q^\\pi(s, a)` exactly.
    gamma : float
    """

    states: np.ndarray
    actions: np.ndarray
    q_returns: np.ndarray
    gamma: float

    def __post_init__(self):
        q = as_float_array("StateActionSamples.q_returns", self.q_returns)
        check_finite("StateActionSamples.q_returns", q)
        for name in ("states", "actions"):
            x = _indices(f"StateActionSamples.{name}", getattr(self, name))
            if x.shape != q.shape or x.ndim != 1:
                raise ValueError(f"StateActionSamples.{name} must have the shape (n,) of q_returns {q.shape}; "
                                 f"got {x.shape}")
            object.__setattr__(self, name, readonly(x))
        object.__setattr__(self, "q_returns", readonly(q))
        gamma = check_gamma(self.gamma)
        if gamma >= 1:
            raise ValueError(f"StateActionSamples.gamma must lie in [0, 1); got {gamma!r}")
        object.__setattr__(self, "gamma", gamma)

    @property
    def n(self) -> int:
        return self.states.shape[0]


def reward_bound(mdp: FiniteMDP) -> float:
    """:math:`r_{\\max} = \\max |r|` over the rewards a rollout can emit (full rewards if given)."""
    R = mdp.R if mdp.R_full is None else mdp.R_full
    values = R.data if sp.issparse(R) else np.asarray(R)
    return float(np.max(np.abs(values), initial=0.0))


def truncation_horizon(gamma: float, rmax: float, tol: float = TRUNCATION_TOL) -> int:
    """Smallest ``T`` with :math:`\\gamma^T r_{\\max}/(1-\\gamma) \\le` ``tol``.

    Notes
    -----
    The return neglected after ``T`` steps is at most
    :math:`\\sum_{t\\ge T}\\gamma^t r_{\\max} = \\gamma^T r_{\\max}/(1-\\gamma)`, hence
    :math:`T = \\lceil \\log(\\mathrm{tol}(1-\\gamma)/r_{\\max}) / \\log\\gamma \\rceil`.

    Examples
    --------
    >>> T = truncation_horizon(0.9, 1.0, 1e-6)
    >>> bool(0.9 ** T / 0.1 <= 1e-6 < 0.9 ** (T - 1) / 0.1)
    True
    """
    for name, x in (("gamma", gamma), ("rmax", rmax), ("tol", tol)):
        real(name, x)
    if not (0.0 <= gamma < 1.0):
        raise ValueError(f"gamma must lie in [0, 1) for a truncation horizon; got {gamma!r}")
    if not (rmax >= 0 and math.isfinite(rmax)):
        raise ValueError(f"rmax must be a finite number >= 0; got {rmax!r}")
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    if rmax <= tol * (1 - gamma) or gamma == 0.0:
        return 1
    return max(1, math.ceil(math.log(tol * (1 - gamma) / rmax) / math.log(gamma)))


def _rollout_horizon(mdp: FiniteMDP, horizon, tol: float) -> int | None:
    if check_horizon(horizon) is not None:
        if mdp.horizon is not None and horizon != mdp.horizon:
            raise ValueError(f"horizon={horizon} differs from the MDP's horizon {mdp.horizon}")
        return int(horizon)
    if mdp.horizon is not None:
        return mdp.horizon
    if mdp.gamma < 1:
        return truncation_horizon(mdp.gamma, reward_bound(mdp), tol)
    if mdp.terminal_states().size == 0:
        raise ValueError("gamma = 1 with horizon=None needs terminal states or a horizon argument")
    return None


def _check_episodes_end(mdp: FiniteMDP, pi: np.ndarray) -> None:
    """ValueError if, under ``pi``, a state reachable from ``mu`` can never reach a terminal state.

    Such an episode would never end: refuse before sampling instead of after
    :data:`MAX_EPISODE_STEPS` steps.
    """
    stuck = never_terminating_states(mdp, pi)
    if stuck.size == 0:
        return
    reached = reachable(policy_transitions(mdp, pi), np.flatnonzero(mdp.mu > 0))
    bad = np.intersect1d(stuck, reached)
    if bad.size:
        raise ValueError(f"gamma = 1 with horizon=None: under pi the states {bad[:10].tolist()}"
                         f"{' ...' if bad.size > 10 else ''} are reachable from mu but never reach a terminal "
                         "state, so episodes through them never end (give a horizon or change pi)")


class _Steps:
    """Step-major buffers ``(T, n)`` (grown when ``T`` is unknown), filled a chunk of steps at a time."""

    def __init__(self, n: int, T: int | None):
        self.t, self.n = 0, n
        self.buffers = self._allocate(T if T is not None else 64)

    def _allocate(self, T: int):
        return [np.empty((T, self.n), dtype) for dtype in (np.int32, np.int32, float, bool)]

    def _reserve(self, c: int) -> None:
        size = self.buffers[0].shape[0]
        if self.t + c > size:
            bigger = self._allocate(max(2 * size, self.t + c))
            for new, old in zip(bigger, self.buffers):
                new[:self.t] = old[:self.t]
            self.buffers = bigger

    def record(self, smp, s: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Store the ``c`` steps of one :meth:`~tabular_pg.sampled.samplers.Sampler.walk` from ``s (n,)``, looked
        up from its codes in bulk (rewards 0 where the episode has ended); returns the chunk's mask ``(c, n)``."""
        c = first.shape[0]
        self._reserve(c)
        states, actions, rewards, mask = (b[self.t:self.t + c] for b in self.buffers)
        (action_of, state_of, reward_of), states[0] = smp.emissions, s
        np.take(state_of, last[:-1], out=states[1:], mode="wrap")   # codes are valid: "wrap" only skips
        np.take(action_of, first, out=actions, mode="wrap")         # numpy's buffered copy of out (2x)
        np.take(reward_of, last, out=rewards, mode="wrap")
        if smp.model.ends:
            np.logical_not(np.take(smp.model.terminal, states), out=mask)
            rewards[~mask] = 0.0
        else:
            mask[...] = True
        self.t += c
        return mask

    def arrays(self):
        """The ``(n, T)`` views (transposes, no copy) of the step-major buffers trimmed to ``T`` steps."""
        return [b[:self.t].T for b in self.buffers]


def rollout(mdp: FiniteMDP, pi, n: int, rng: np.random.Generator, horizon: int | None = None,
            tol: float = TRUNCATION_TOL, method: str = "auto") -> Trajectories:
    """Sample ``n`` trajectories of ``pi`` on ``mdp``, all advanced together.

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A), or (H, S, A) for a per-step policy on a finite horizon
    n : int >= 1
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives identical trajectories.
    horizon : int, optional
        Number of steps.  Default: the MDP's horizon; for an infinite horizon with
        ``gamma < 1`` the truncation of :func:`truncation_horizon` at ``tol``; for
        ``gamma = 1`` episodic tasks, until every episode has reached a terminal state.
    tol : float
        Bound on the neglected discounted return when truncating.
    method : {"auto", "joint", "alias", "inverse_cdf"}
        Row samplers (:mod:`tabular_pg.sampled.samplers`): every method draws exactly from
        ``mu``, ``pi`` and ``P``; they differ in speed and in the trajectories a seed gives.

    Returns
    -------
    Trajectories
        states, actions, rewards, mask of shape ``(n, T)``.

    Notes
    -----
    Samples :math:`\\tau \\sim \\pi_\\theta(\\tau) = p_0(s_0)\\prod_t \\pi(a_t|s_t) p(s_{t+1}|s_t,a_t)`
    ("Lecture 6: The Policy Gradient" eq. 2).  One step costs two uniform draws per trajectory and two
    vectorised row draws (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((2, 1, 2)); P[0, 0, 1] = 1; P[1, 0, 1] = 1       # 0 -> 1 (terminal)
    >>> mdp = FiniteMDP(P, np.array([[1.], [0.]]), np.array([1., 0.]), gamma=1.0)
    >>> traj = rollout(mdp, np.ones((2, 1)), 3, np.random.default_rng(0))
    >>> traj.lengths.tolist(), traj.returns().tolist()
    ([1, 1, 1], [1.0, 1.0, 1.0])
    """
    n, rng = positive_int("n", n, "an int >= 1 (number of trajectories)"), check_rng(rng)
    pi = check_policy(mdp, pi)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    T = _rollout_horizon(mdp, horizon, tol)
    if T is None:
        _check_episodes_end(mdp, pi)
    smp = sampler(mdp, pi, method, draws=n * (T or 64))
    s = smp.states(rng.random(n))
    steps, chunk = _Steps(n, T), max(1, min(MAX_CHUNK_STEPS, CHUNK_DRAWS // n, T or MAX_CHUNK_STEPS))
    uniforms, first = np.empty((chunk, smp.n_uniforms, n)), np.empty((chunk, n), np.intp)
    last = first if smp.joint else np.empty((chunk, n), np.intp)
    while (steps.t < T) if T is not None else not smp.model.terminal[s].all():
        if T is None and steps.t >= MAX_EPISODE_STEPS:
            raise ValueError(f"episodes did not terminate within {MAX_EPISODE_STEPS} steps; give a horizon")
        t, c = steps.t, min(chunk, (T if T is not None else MAX_EPISODE_STEPS) - steps.t)
        s_next = smp.walk(s, t, rng.random(out=uniforms[:c]), first[:c], last[:c])
        mask = steps.record(smp, s, first[:c], last[:c])
        s = s_next
        if T is None and not mask[-1].any():                   # every episode over: stop at the first such step
            steps.t = t + int(np.argmin(mask.any(axis=1)))
            break
    states, actions, rewards, mask = steps.arrays()
    return Trajectories.sampled(states, actions, rewards, mask, mdp.gamma, mdp.horizon)


def sample_visitation(mdp: FiniteMDP, pi, n: int, rng: np.random.Generator) -> StateActionSamples:
    """``n`` samples :math:`(s,a)\\sim d^\\pi` with unbiased Monte Carlo :math:`\\hat Q(s,a)`, by geometric stopping.

    Parameters
    ----------
    mdp : FiniteMDP with ``gamma < 1`` and no horizon
    pi : array_like (S, A)
    n : int >= 1
    rng : numpy.random.Generator

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §1: :math:`d(s,a) = (1-\\gamma)\\sum_t \\gamma^t P(s_t=s,
    a_t=a)`.  With
    :math:`T \\sim \\mathrm{Geom}(1-\\gamma)` on :math:`\\{0,1,\\dots\\}`, :math:`P(T=t)=(1-\\gamma)\\gamma^t`,
    so :math:`(s_T, a_T) \\sim d` exactly.  Continuing from there for an independent
    :math:`K \\sim \\mathrm{Geom}(1-\\gamma)` steps, the undiscounted sum
    :math:`\\hat Q = \\sum_{k=0}^{K} r_{T+k}` has :math:`\\mathbb E[\\hat Q|s_T,a_T] = \\sum_k \\gamma^k
    \\mathbb E[r_{T+k}] = Q(s_T,a_T)`, since :math:`P(K \\ge k) = \\gamma^k`.  No truncation, no bias.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.ones((1, 1, 1)); mdp = FiniteMDP(P, np.ones((1, 1)), np.ones(1), gamma=0.75)
    >>> x = sample_visitation(mdp, np.ones((1, 1)), 20000, np.random.default_rng(1))
    >>> bool(abs(x.q_returns.mean() - 4.0) < 0.1)      # Q = 1 / (1 - 0.75)
    True
    """
    n, rng = positive_int("n", n, "an int >= 1 (number of trajectories)"), check_rng(rng)
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    if mdp.horizon is not None or not mdp.gamma < 1:
        raise ValueError(f"sample_visitation needs an infinite horizon with gamma < 1; got gamma={mdp.gamma}, "
                         f"horizon={mdp.horizon}")
    pi = check_policy(mdp, pi)
    smp = sampler(mdp, pi, "auto", draws=n * int(round(2 / (1 - mdp.gamma))))
    stop = rng.geometric(1 - mdp.gamma, size=n) - 1 if mdp.gamma > 0 else np.zeros(n, np.intp)
    extra = rng.geometric(1 - mdp.gamma, size=n) - 1 if mdp.gamma > 0 else np.zeros(n, np.intp)
    s = smp.states(rng.random(n))
    states, actions, q = np.zeros(n, np.intp), np.zeros(n, np.intp), np.zeros(n)
    for t in range(int((stop + extra).max()) + 1):
        a, s_next, r = smp.advance(0, s, rng.random((smp.n_uniforms, n)))
        here = stop == t
        states[here], actions[here] = s[here], a[here]
        q += np.where((t >= stop) & (t <= stop + extra), r, 0.0)
        s = s_next
    return StateActionSamples(states, actions, q, mdp.gamma)
