"""Finite MDPs: the frozen container, its validation and its structure queries.

A :class:`FiniteMDP` holds transitions ``P`` (dense ``(S, A, S)`` or sparse ``(S*A, S)``),
expected rewards ``r (S, A)``, the start distribution ``mu (S,)``, the discount ``gamma``
and an optional finite ``horizon``.  The objective it defines is

.. math:: J(\\pi) = \\mathbb{E}\\Big[\\sum_{t=0}^{H-1} \\gamma^t r(s_t, a_t)\\Big],
          \\quad s_0 \\sim \\mu,

with ``H = horizon`` (``None`` for an infinite horizon), as in "Lecture 6: The Policy Gradient" eq. (1).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from tabular_pg._checks import (
    STOCHASTIC_ATOL,
    as_float_array,
    check_action_mask,
    check_distributions,
    check_finite,
    check_gamma,
    check_horizon,
    check_real_sparse,
    check_sparse_structure,
    readonly,
    transition_atol,
)

__all__ = ["FiniteMDP", "STOCHASTIC_ATOL", "reachable"]


def reachable(adjacency, sources) -> np.ndarray:
    """States reachable from ``sources`` along the non-zero entries of ``adjacency`` (sorted).

    The one reachability routine of the package: ``adjacency (S, S)`` (dense or sparse)
    has an edge ``s -> s'`` where ``adjacency[s, s'] != 0``; a source is reachable from
    itself.  Breadth-first search from a super-source joined to every source
    (scipy.sparse.csgraph), :math:`O(S + \text{nnz})`.

    Examples
    --------
    >>> reachable(np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]]), [0]).tolist()
    [0, 1]
    """
    A = sp.csr_matrix(adjacency, dtype=bool)
    S = A.shape[0]
    sources = np.unique(np.asarray(sources, dtype=np.int64))
    link = sp.csr_matrix((np.ones(sources.size, dtype=bool), (np.full(sources.size, S), sources)), shape=(S + 1, S + 1))
    graph = (sp.block_diag([A, sp.csr_matrix((1, 1), dtype=bool)], format="csr") + link).tocsr()
    order = breadth_first_order(graph, S, directed=True, return_predecessors=False)
    return np.sort(order[order < S])


def _validate_dense_P(P: np.ndarray, atol: float) -> np.ndarray:
    if P.ndim != 3 or P.shape[0] != P.shape[2] or P.shape[0] == 0 or P.shape[1] == 0:
        raise ValueError(f"P must have shape (S, A, S) with S, A >= 1; got shape {P.shape}")
    check_distributions("P", P, labels=("s", "a"), atol=atol)
    return readonly(P)


def _validate_sparse_P(P, n_actions: int | None, atol: float) -> sp.csr_matrix:
    check_real_sparse("P", P)
    check_sparse_structure("P", P)
    P = sp.csr_matrix(P, dtype=float, copy=True)    # never alias the caller's (or a read-only) CSR
    P.sum_duplicates()
    SA, S = P.shape
    if n_actions is None:
        if S == 0 or SA % S != 0:
            raise ValueError(f"sparse P must have shape (S*A, S); got {P.shape}, not a multiple of S")
        n_actions = SA // S
    if S == 0 or SA != S * n_actions:
        raise ValueError(f"sparse P must have shape (S*A, S) = ({S}*{n_actions}, {S}); got {P.shape}")
    check_distributions("P", P.data, sums=np.asarray(P.sum(axis=1)).reshape(S, n_actions), labels=("s", "a"),
                        atol=atol)
    P.eliminate_zeros()
    for arr in (P.data, P.indices, P.indptr):
        arr.setflags(write=False)
    return P


def _expected_reward(R, P, S: int, A: int) -> np.ndarray:
    """Reduce ``R (S, A)`` or ``R (S, A, S)`` to the expected reward ``r(s, a) (S, A)``."""
    if sp.issparse(R):
        check_real_sparse("R", R)
        check_sparse_structure("R", R)
        if R.shape != (S * A, S):
            raise ValueError(f"sparse R must have shape (S*A, S) = {(S * A, S)}; got {R.shape}")
        R = sp.csr_matrix(R, dtype=float)
        check_finite("R", R.data)
        Pm = P if sp.issparse(P) else sp.csr_matrix(P.reshape(S * A, S))
        return np.asarray(Pm.multiply(R).sum(axis=1)).reshape(S, A)
    R = as_float_array("R", R)
    if R.shape == (S, A):
        check_finite("R", R)
        return R
    if R.shape == (S, A, S):
        check_finite("R", R)
        if sp.issparse(P):
            return np.asarray(P.multiply(R.reshape(S * A, S)).sum(axis=1)).reshape(S, A)
        return np.einsum("sat,sat->sa", P, R)
    raise ValueError(f"R must have shape (S, A) = {(S, A)} or (S, A, S) = {(S, A, S)}; got {R.shape}")


def _apply_mask(P, R, mask):
    """``(P, R, mask)`` with QuantEcon's ``-inf`` rewards ``R (S, A)`` turned into masked pairs
    (reward 0) and all-zero rows of masked pairs in ``P`` filled with a self-loop (copies)."""
    R_arr = None if sp.issparse(R) else np.asarray(R)
    if R_arr is not None and R_arr.ndim == 2 and R_arr.dtype.kind == "f" and np.isneginf(R_arr).any():
        feasible = ~np.isneginf(R_arr)
        mask = feasible if mask is None else check_action_mask(mask, *R_arr.shape) & feasible
        R = np.where(feasible, R_arr, 0.0)
    if mask is None:
        return P, R, None
    raw = np.asarray(mask)
    if raw.ndim != 2:
        return P, R, mask                                       # check_action_mask reports the shape
    S, A = raw.shape
    infeasible = np.flatnonzero(~raw.astype(bool).ravel())
    if infeasible.size == 0 or not (sp.issparse(P) or np.asarray(P).dtype.kind in "biuf") or np.ndim(P) not in (2, 3):
        return P, R, mask                                       # the validation of P reports bad input
    P_sa = sp.csr_matrix(P) if sp.issparse(P) else np.array(P, dtype=float).reshape(-1, np.shape(P)[-1])
    if P_sa.shape != (S * A, S):
        return P, R, mask
    sums = np.asarray(P_sa.sum(axis=1)).ravel()
    empty = infeasible[sums[infeasible] == 0]
    if empty.size and sp.issparse(P):
        P = P_sa + sp.csr_matrix((np.ones(empty.size), (empty, empty // A)), shape=P_sa.shape)
    elif empty.size:
        P_sa[empty, empty // A] = 1.0
        P = P_sa.reshape(S, A, S)
    return P, R, mask


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite MDP ``(P, r, mu, gamma, horizon)``; frozen, arrays read-only.

    Parameters
    ----------
    P : array_like (S, A, S) or scipy.sparse (S*A, S)
        Transition probabilities ``P[s, a, s'] = P(s' | s, a)``; row ``s*A + a`` of the
        sparse form is the distribution of ``s'`` after ``(s, a)``.  Rows must be
        non-negative, finite and sum to 1 within
        :func:`~tabular_pg._checks.transition_atol` ``(gamma, horizon)``:
        ``1e-9`` divided by the effective horizon ``min(H, 1/(1-gamma))``, at least
        ``1e-12``, so that the rows' error moves values by at most ~1e-9 relative (more
        only below the floor, i.e. for effective horizons beyond 1000: then by at most
        1e-12 times the horizon).  Rows are never renormalised: an MDP off by more is
        refused.  A sparse ``P`` has its index structure checked before any use (column
        indices in range, ``indptr`` consistent); unsorted and duplicate entries are
        accepted and canonicalised (duplicates add up).
    R : array_like (S, A) or (S, A, S), or scipy.sparse (S*A, S)
        Rewards ``r(s, a)`` or ``r(s, a, s')``; the latter is reduced to the expected
        reward :math:`r(s,a) = \\sum_{s'} P(s'|s,a) r(s,a,s')`, which is all the
        exact quantities need.  The original form is kept in ``R_full`` for sampling.
    mu : array_like (S,)
        Start distribution.
    gamma : float in [0, 1]
        Discount.  ``gamma == 1`` needs a horizon, or a policy that reaches zero-reward
        absorbing states with probability 1 (checked when a policy is evaluated).
    horizon : int >= 1 or None
        Finite horizon ``H`` (trajectories ``s_0, a_0, ..., s_{H-1}, a_{H-1}``) or
        ``None`` for the infinite-horizon discounted objective.
    n_actions : int, optional
        Needed only when ``P`` is sparse and ``S*A`` alone does not determine ``A``
        (it always does, since the shape is ``(S*A, S)``); accepted for clarity.
    mask : array_like of bool (S, A), optional
        Feasible actions (state-dependent action sets): ``mask[s, a]`` False makes ``a``
        infeasible in ``s``.  Policies must give infeasible actions probability 0
        (:func:`~tabular_pg.exact.evaluation.check_policy`), :func:`~tabular_pg.optimum`
        never picks one, rollouts never draw one.  The transition row of an infeasible pair
        is never used; an all-zero one is filled with a self-loop.  A reward ``R (S, A)`` of
        ``-inf`` marks an infeasible pair too, as in QuantEcon's ``DiscreteDP`` (the
        conversion is made here: the pair is masked and its reward stored as 0).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1; P[:, 1, 1] = 1
    >>> mdp = FiniteMDP(P, np.array([[0., 1.], [0., 2.]]), np.array([1., 0.]), gamma=0.5)
    >>> mdp.n_states, mdp.n_actions, mdp.is_sparse
    (2, 2, False)
    >>> bool(np.allclose(mdp.P_sa.sum(axis=1), 1))
    True
    """

    P: np.ndarray | sp.csr_matrix
    R: np.ndarray
    mu: np.ndarray
    gamma: float
    horizon: int | None = None
    R_full: np.ndarray | sp.csr_matrix | None = field(default=None, repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)

    def __init__(self, P, R, mu, gamma: float, horizon: int | None = None, n_actions: int | None = None,
                 mask=None):
        gamma = check_gamma(gamma)
        horizon = check_horizon(horizon)
        atol = transition_atol(gamma, horizon)
        if sp.issparse(P):                  # before _apply_mask reads P: a malformed CSR can crash scipy
            check_real_sparse("P", P)
            check_sparse_structure("P", P)
        P, R, mask = _apply_mask(P, R, mask)
        if sp.issparse(P):
            P = _validate_sparse_P(P, n_actions, atol)
            S, A = P.shape[1], P.shape[0] // P.shape[1]
        else:
            P = _validate_dense_P(as_float_array("P", P), atol)
            S, A = P.shape[0], P.shape[1]
        r = _expected_reward(R, P, S, A)
        R_full = None
        if sp.issparse(R):
            R_full = sp.csr_matrix(R, dtype=float)
        elif np.ndim(R) == 3:
            R_full = readonly(R)
        mu = as_float_array("mu", mu)
        if mu.shape != (S,):
            raise ValueError(f"mu must have shape (S,) = ({S},); got {mu.shape}")
        check_distributions("mu", mu)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", readonly(r))
        object.__setattr__(self, "mu", readonly(mu))
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "R_full", R_full)
        object.__setattr__(self, "mask", None if mask is None else check_action_mask(mask, S, A))

    # ----------------------------------------------------------------- shapes
    @property
    def finite_horizon(self) -> int:
        """``horizon`` of a finite-horizon MDP; ValueError on an infinite horizon (``horizon=None``)."""
        if self.horizon is None:
            raise ValueError("this needs a finite-horizon MDP; got horizon=None")
        return self.horizon

    @property
    def n_states(self) -> int:
        return int(self.P.shape[1] if self.is_sparse else self.P.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.P.shape[0] // self.P.shape[1] if self.is_sparse else self.P.shape[1])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.P)

    @functools.cached_property
    def bandwidth(self) -> int:
        """:math:`\\max |s - s'|` over the transitions with ``P(s'|s,a) > 0`` (state order)."""
        P = sp.coo_matrix(self.P_sa)
        return int(np.abs(P.row // self.n_actions - P.col).max(initial=0))

    @property
    def P_sa(self):
        """Transitions as an ``(S*A, S)`` matrix (CSR if sparse, a dense view otherwise)."""
        return self.P if self.is_sparse else self.P.reshape(self.n_states * self.n_actions, self.n_states)

    def with_(self, **changes) -> FiniteMDP:
        """A copy with some of ``P, R, mu, gamma, horizon, mask`` replaced (validated again).

        Examples
        --------
        >>> import numpy as np
        >>> mdp = FiniteMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), gamma=0.5)
        >>> mdp.with_(gamma=0.9).gamma
        0.9
        """
        args: dict[str, Any] = dict(P=self.P, R=self.R if self.R_full is None else self.R_full,
                                    mu=self.mu, gamma=self.gamma, horizon=self.horizon, mask=self.mask)
        unknown = set(changes) - set(args)
        if unknown:
            raise TypeError(f"with_() got unknown fields {sorted(unknown)}; expected some of {sorted(args)}")
        args.update(changes)
        return FiniteMDP(**args)

    # ------------------------------------------------------------- structure
    def support(self, pi: np.ndarray | None = None) -> sp.csr_matrix:
        """Boolean ``(S, S)`` adjacency: ``s -> s'`` when ``P(s'|s,a) > 0`` for some action.

        With a policy ``pi (S, A)``, only actions with ``pi(a|s) > 0`` count.
        """
        P = sp.coo_matrix(self.P_sa)
        keep = P.data > 0
        if pi is not None:
            keep &= np.asarray(pi).reshape(-1)[P.row] > 0
        S = self.n_states
        return sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (P.row[keep] // self.n_actions, P.col[keep])),
                             shape=(S, S))

    def support_graph(self, pi: np.ndarray | None = None):
        """:meth:`support` as a ``networkx.DiGraph`` (networkx is imported here, on first use)."""
        import networkx as nx
        g = nx.DiGraph()
        g.add_nodes_from(range(self.n_states))
        g.add_edges_from(zip(*(idx.tolist() for idx in self.support(pi).nonzero())))
        return g

    def absorbing_states(self) -> np.ndarray:
        """States ``s`` with ``P(s|s,a) = 1`` for every action (sorted indices).

        Examples
        --------
        >>> import numpy as np
        >>> P = np.zeros((2, 1, 2)); P[0, 0, 1] = 1; P[1, 0, 1] = 1
        >>> FiniteMDP(P, np.zeros((2, 1)), np.array([1., 0.]), gamma=1.0).absorbing_states()
        array([1])
        """
        S, A = self.n_states, self.n_actions
        self_loop = np.asarray(sp.csr_matrix(self.P_sa)[np.arange(S * A), np.repeat(np.arange(S), A)]).reshape(S, A)
        return np.flatnonzero(np.all(np.abs(self_loop - 1.0) <= STOCHASTIC_ATOL, axis=1))

    def terminal_states(self) -> np.ndarray:
        """Absorbing states whose reward is zero under every action: where episodes end."""
        absorbing = self.absorbing_states()
        return absorbing[np.all(self.R[absorbing] == 0.0, axis=1)]

    def reachable_states(self, pi: np.ndarray | None = None) -> np.ndarray:
        """States reachable from the support of ``mu`` (under ``pi`` if given), sorted."""
        return reachable(self.support(pi), np.flatnonzero(self.mu > 0)).astype(int)

