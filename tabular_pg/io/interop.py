"""Interop with gymnasium toy-text environments and pymdptoolbox's array layout.

``from_gymnasium(env, gamma)`` reads the ``P`` table of FrozenLake, Taxi or CliffWalking
(terminal transitions become zero-reward absorbing states); ``to_gymnasium(mdp)`` returns
a ``gymnasium.Env`` that passes gymnasium's environment checker; ``from_pymdptoolbox`` /
``to_pymdptoolbox`` convert ``P (A, S, S)`` and ``R (S, A)`` or ``(A, S, S)``.  gymnasium
is imported only when needed (the ``gym`` extra); pymdptoolbox is never imported.
Re-exported by :mod:`tabular_pg.io`.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP, reachable

__all__ = ["from_gymnasium", "to_gymnasium", "from_pymdptoolbox", "to_pymdptoolbox", "toy_text_ids", "TOY_TEXT"]

#: The gymnasium toy-text families with a transition table ``P`` (Blackjack has none).
TOY_TEXT = ("FrozenLake", "Taxi", "CliffWalking")


def toy_text_ids() -> list:
    """The ids of the installed gymnasium's registered environments that
    :func:`from_gymnasium` reads (their versions change: Taxi-v4 and CliffWalking-v1 in
    gymnasium 1.x); empty without gymnasium."""
    try:
        from gymnasium.envs.registration import registry
    except ImportError:
        return []
    return [env_id for env_id, spec in registry.items()
            if "toy_text" in str(spec.entry_point) and env_id.startswith(TOY_TEXT)]


# ----------------------------------------------------------------------------- gymnasium
def _toy_text_table(env):
    table = getattr(getattr(env, "unwrapped", env), "P", None)
    if not isinstance(table, dict):
        raise TypeError(f"env must be a toy-text environment with a transition table P "
                        f"(FrozenLake, Taxi, CliffWalking); {type(env).__name__} has none")
    S, A = (getattr(getattr(env, k), "n", None) for k in ("observation_space", "action_space"))
    if S is None or A is None:
        raise TypeError("env must have Discrete observation and action spaces")
    missing = [(s, a) for s in range(S) for a in range(A) if a not in table.get(s, {})]
    if missing:
        raise ValueError(f"env's transition table P has no entry for (state, action) {missing[0]} "
                         f"({len(missing)} missing of {S * A})")
    rows = [(s * A + a, p, s2, r, done) for s in range(S) for a in range(A)
            for p, s2, r, done in table[s][a] if p > 0]
    row, p, s2, r, done = (np.array(c) for c in zip(*rows))
    return int(S), int(A), row, p.astype(float), s2.astype(int), r.astype(float), done.astype(bool)


def _episode_states(S: int, A: int, row, s2, keep, mu) -> np.ndarray:
    """States an episode can be in: reachable from ``supp(mu)`` by non-terminating moves."""
    adj = sp.csr_matrix((np.ones(keep.sum()), (row[keep] // A, s2[keep])), shape=(S, S))
    reach = np.zeros(S, dtype=bool)
    reach[reachable(adj, np.flatnonzero(mu > 0))] = True
    return reach


def from_gymnasium(env, gamma: float, horizon: int | None = None, mu=None) -> FiniteMDP:
    """The :class:`FiniteMDP` of a toy-text gymnasium environment, read from its ``P`` table.

    Parameters
    ----------
    env : gymnasium.Env
        An environment whose ``unwrapped.P[s][a]`` lists ``(p, s', r, terminated)``.
    gamma : float in [0, 1]
    horizon : int or None
        The env's time limit is not applied unless given here.
    mu : array_like (S,), optional
        Start distribution; default ``env.unwrapped.initial_state_distrib``.

    Returns
    -------
    FiniteMDP
        Rewards ``r(s, a, s')`` (probability-weighted mean over table entries sharing
        ``s'``).  A terminating transition ends the episode, so its target becomes a
        zero-reward absorbing state when no episode continues from it (FrozenLake's holes
        and goal, Taxi's delivered states, CliffWalking's goal); otherwise terminating
        transitions go to one extra absorbing state appended at index ``S``.

    Examples
    --------
    A two-state table: from 0 a coin flip stays (reward 0) or ends the episode in 1
    (reward 1); so ``J = sum_t 2^-(t+1) = 1`` with ``gamma = 1``.

    >>> from types import SimpleNamespace as NS
    >>> from tabular_pg import evaluate
    >>> table = {0: {0: [(0.5, 0, 0.0, False), (0.5, 1, 1.0, True)]}, 1: {0: [(1.0, 0, 5.0, False)]}}
    >>> env = NS(P=table, observation_space=NS(n=2), action_space=NS(n=1), initial_state_distrib=[1., 0.])
    >>> mdp = from_gymnasium(env, gamma=1.0)
    >>> mdp.terminal_states().tolist(), float(evaluate(mdp, np.ones((2, 1))).J)
    ([1], 1.0)
    """
    S, A, row, p, s2, r, done = _toy_text_table(env)
    base = getattr(env, "unwrapped", env)
    mu = np.asarray(getattr(base, "initial_state_distrib", None) if mu is None else mu, dtype=float)
    if mu.shape != (S,):
        raise ValueError(f"mu must have shape ({S},); got {mu.shape} (give mu= for this env)")
    ends = np.unique(s2[done])
    if _episode_states(S, A, row, s2, ~done, mu)[ends].any():
        s2 = np.where(done, S, s2)
        ends, S, mu = np.array([S]), S + 1, np.r_[mu, 0.0]
    keep = ~np.isin(row // A, ends)
    loops = (ends[:, None] * A + np.arange(A)).ravel()
    row = np.r_[row[keep], loops]
    s2 = np.r_[s2[keep], np.repeat(ends, A)]
    p, r = np.r_[p[keep], np.ones(loops.size)], np.r_[r[keep], np.zeros(loops.size)]
    return _from_triplets(row, s2, p, r, S, A, mu, gamma, horizon)


def _from_triplets(row, col, p, r, S, A, mu, gamma, horizon) -> FiniteMDP:
    """Sum repeated ``(row, col)`` probabilities; their rewards become the weighted mean."""
    key, inverse = np.unique(row * S + col, return_inverse=True)
    p_sum = np.bincount(inverse, p)
    r_mean = np.bincount(inverse, p * r) / p_sum
    row, col = np.divmod(key, S)
    P = sp.csr_matrix((p_sum, (row, col)), shape=(S * A, S))
    R = sp.csr_matrix((r_mean, (row, col)), shape=(S * A, S))
    if S <= 1000:
        P, R = P.toarray().reshape(S, A, S), R.toarray().reshape(S, A, S)
    return FiniteMDP(P, R, mu, gamma=gamma, horizon=horizon)


@cache
def _env_class():
    import gymnasium
    from gymnasium.spaces import Discrete

    class FiniteMDPEnv(gymnasium.Env):
        """A gymnasium view of a :class:`FiniteMDP`: observations are state indices."""

        metadata = {"render_modes": []}

        def __init__(self, mdp: FiniteMDP):
            S, A = mdp.n_states, mdp.n_actions
            self.mdp, self.observation_space, self.action_space = mdp, Discrete(S), Discrete(A)
            self._P = sp.csr_matrix(mdp.P_sa)
            R = mdp.R_full if mdp.R_full is not None else np.repeat(mdp.R.reshape(-1, 1), S, axis=1)
            self._R = sp.csr_matrix(R.reshape(S * A, S) if not sp.issparse(R) else R)
            self._terminal = np.isin(np.arange(S), mdp.terminal_states())
            self.P = {s: {a: self._outcomes(s * A + a) for a in range(A)} for s in range(S)}
            self.initial_state_distrib = np.array(mdp.mu)
            self.s, self.t = 0, 0

        def _outcomes(self, row: int) -> list:
            lo, hi = self._P.indptr[row], self._P.indptr[row + 1]
            cols, probs = self._P.indices[lo:hi], self._P.data[lo:hi]
            rewards = self._R[row].toarray().ravel()[cols]
            return [(float(p), int(c), float(r), bool(self._terminal[c])) for p, c, r in zip(probs, cols, rewards)]

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.s, self.t = _draw(self.mdp.mu, self.np_random), 0
            return np.int64(self.s), {}

        def step(self, action):
            if not self.action_space.contains(action):
                raise ValueError(f"action must be in [0, {self.action_space.n}); got {action!r}")
            row = self.s * self.mdp.n_actions + int(action)
            lo, hi = self._P.indptr[row], self._P.indptr[row + 1]
            s2 = int(self._P.indices[lo + _draw(self._P.data[lo:hi], self.np_random)])
            reward = float(self._R[row, s2])
            self.s, self.t = s2, self.t + 1
            terminated = bool(self._terminal[s2])
            truncated = self.mdp.horizon is not None and self.t >= self.mdp.horizon and not terminated
            return np.int64(s2), reward, terminated, truncated, {}

    return FiniteMDPEnv


def _draw(p: np.ndarray, rng: np.random.Generator) -> int:
    c = np.cumsum(p)
    return int(min(np.searchsorted(c, rng.random() * c[-1], side="right"), len(p) - 1))


def to_gymnasium(mdp: FiniteMDP):
    """A ``gymnasium.Env`` that samples ``mdp`` (needs the ``gym`` extra).

    Observations and actions are ``Discrete``; entering a terminal state (zero-reward
    absorbing) sets ``terminated``; with a horizon ``H`` the ``H``-th step sets
    ``truncated``.  The env carries a toy-text ``P`` table, so
    ``from_gymnasium(to_gymnasium(mdp), mdp.gamma)`` gives ``mdp`` back.
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    return _env_class()(mdp)


# ------------------------------------------------------------------------- pymdptoolbox
def _per_action(x):
    """A list/tuple/object array of ``A`` per-action matrices (pymdptoolbox's sparse layout), else None."""
    if isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.dtype == object and x.ndim == 1):
        items = list(x)
        if items and all(sp.issparse(m) or np.ndim(m) in (1, 2) for m in items):
            return items
    return None


def _stack_sparse(items, S: int, A: int, name: str) -> sp.csr_matrix:
    """``A`` sparse ``(S, S)`` matrices as one ``(S*A, S)`` CSR with row ``s*A + a``."""
    shapes = {M.shape for M in items}
    if shapes != {(S, S)}:
        raise ValueError(f"{name} must hold A = {A} matrices of shape (S, S) = {(S, S)}; got shapes {sorted(shapes)}")
    return sp.csr_matrix(sp.vstack([sp.csr_matrix(M) for M in items])[_action_major(S, A)])


def _pymdptoolbox_P(P):
    """``(P for FiniteMDP, S, A)`` from ``(A, S, S)`` or a sequence/object array of ``A`` ``(S, S)`` matrices."""
    items = _per_action(P)
    if items is not None and any(sp.issparse(M) for M in items):
        A, S = len(items), items[0].shape[0]
        return _stack_sparse(items, S, A, "P"), S, A
    P = np.asarray(np.stack([np.asarray(M.toarray() if sp.issparse(M) else M, dtype=float) for M in items])
                   if items is not None else P, dtype=float)
    if P.ndim != 3 or P.shape[1] != P.shape[2]:
        raise ValueError(f"P must have shape (A, S, S); got {P.shape}")
    return P.transpose(1, 0, 2), P.shape[1], P.shape[0]


def _pymdptoolbox_R(R, S: int, A: int):
    """``R`` for FiniteMDP from ``(S, A)``, ``(S,)``, ``(A, S, S)`` or a sequence of ``A`` ``(S, S)`` matrices."""
    items = _per_action(R)
    if items is not None and len(items) == A and any(sp.issparse(M) for M in items):
        return _stack_sparse(items, S, A, "R")                   # r(s, a, s') on the stored entries
    R = np.asarray(np.stack([np.asarray(M, dtype=float) for M in items]) if items is not None else R, dtype=float)
    if R.shape == (A, S, S):
        return R.transpose(1, 0, 2)
    if R.shape == (S,):
        return np.repeat(R[:, None], A, axis=1)
    if R.shape != (S, A):
        raise ValueError(f"R must have shape (S, A) = {(S, A)}, (S,) or (A, S, S), or be a sequence of A (S, S) "
                         f"matrices; got {R.shape}")
    return R


def from_pymdptoolbox(P, R, gamma: float, mu=None, horizon: int | None = None, mask=None) -> FiniteMDP:
    """An MDP from pymdptoolbox's layout; ``mu`` defaults to uniform (pymdptoolbox has none).

    Parameters
    ----------
    P : array_like (A, S, S), or a list, tuple or object array of ``A`` ``(S, S)`` matrices
        (scipy.sparse or dense), as ``mdptoolbox.example.rand(..., is_sparse=True)`` and
        ``forest(..., is_sparse=True)`` return them.
    R : array_like (S, A), (S,) or (A, S, S), or a sequence of ``A`` ``(S, S)`` matrices
        (``rand(..., is_sparse=True)``: rewards ``r(s, a, s')`` on the stored entries).  A
        reward ``R (S, A)`` of ``-inf`` marks an infeasible action as in QuantEcon's
        ``DiscreteDP`` (converted to :attr:`FiniteMDP.mask` by :class:`FiniteMDP`).
    gamma, mu, horizon, mask
        As for :class:`~tabular_pg.FiniteMDP`.
    """
    P, S, A = _pymdptoolbox_P(P)
    R = _pymdptoolbox_R(R, S, A)
    mu = np.full(S, 1.0 / S) if mu is None else mu
    return FiniteMDP(P, R, mu, gamma=gamma, horizon=horizon, mask=mask)


def _action_major(S: int, A: int) -> np.ndarray:
    """Row order that turns an action-major stack (row ``a*S + s``) into ``s*A + a``."""
    s, a = np.divmod(np.arange(S * A), A)
    return a * S + s


def to_pymdptoolbox(mdp: FiniteMDP):
    """``(P, R, gamma)`` in pymdptoolbox's layout: ``P (A, S, S)`` (a tuple of ``A`` CSR
    matrices when ``mdp`` is sparse), ``R (A, S, S)`` when rewards depend on ``s'`` and are
    dense, else the expected ``R (S, A)``.

    Examples
    --------
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1; P[:, 1, 1] = 1
    >>> mdp = FiniteMDP(P, np.array([[0., 1.], [0., 2.]]), np.array([1., 0.]), gamma=0.5)
    >>> back = from_pymdptoolbox(*to_pymdptoolbox(mdp), mu=mdp.mu)
    >>> bool(np.array_equal(back.P, mdp.P) and np.array_equal(back.R, mdp.R))
    True
    """
    A = mdp.n_actions
    P: tuple | np.ndarray
    if mdp.is_sparse:
        P = tuple(sp.csr_matrix(mdp.P[a::A]) for a in range(A))
    else:
        P = np.ascontiguousarray(mdp.P.transpose(1, 0, 2))
    R_full = mdp.R_full
    full = R_full is not None and not sp.issparse(R_full)
    R = np.ascontiguousarray(R_full.transpose(1, 0, 2)) if R_full is not None and full else np.array(mdp.R)
    return P, R, mdp.gamma
