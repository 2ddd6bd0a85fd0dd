"""Garnet random MDPs (Archibald, McKinnon & Thomas, 1995; Bhatnagar et al., 2009)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mdps._build import positive_int, use_sparse
from tabular_pg.mdp import FiniteMDP

__all__ = ["garnet", "distinct_successors", "uniform_partition"]


def distinct_successors(n_rows: int, n_states: int, branching: int, rng: np.random.Generator) -> np.ndarray:
    """``branching`` distinct states per row, each subset uniform; sorted, shape ``(n_rows, b)``.

    Notes
    -----
    Floyd's algorithm (Bentley & Floyd, "Programming pearls: a sample of brilliance",
    CACM 30(9), 1987), vectorised over rows: for :math:`j = S-b, \\dots, S-1` draw
    :math:`t \\sim U\\{0..j\\}` and keep :math:`t`, or :math:`j` if :math:`t` was kept before.
    It loops over the ``b`` picks, never over rows or states.

    Examples
    --------
    >>> X = distinct_successors(1000, 7, 7, np.random.default_rng(0))
    >>> bool((X == np.arange(7)).all())                   # b = S picks every state
    True
    """
    chosen = np.empty((n_rows, branching), dtype=np.int64)
    for k, j in enumerate(range(n_states - branching, n_states)):
        t = rng.integers(0, j + 1, size=n_rows)
        seen = (chosen[:, :k] == t[:, None]).any(axis=1)
        chosen[:, k] = np.where(seen, j, t)
    chosen.sort(axis=1)
    return chosen


def uniform_partition(n_rows: int, branching: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths of the pieces of [0, 1] cut at ``b - 1`` uniform points, shape ``(n_rows, b)``.

    Notes
    -----
    The spacings of :math:`b-1` sorted uniforms are Dirichlet(1, ..., 1) distributed
    (Devroye, "Non-Uniform Random Variate Generation", 1986, §V.2), so this is also the
    Dirichlet(1) variant of Garnet.

    Examples
    --------
    >>> p = uniform_partition(5, 3, np.random.default_rng(1))
    >>> bool(np.allclose(p.sum(axis=1), 1) and (p >= 0).all())
    True
    """
    cuts = np.sort(rng.random((n_rows, branching - 1)), axis=1)
    edges = np.concatenate([np.zeros((n_rows, 1)), cuts, np.ones((n_rows, 1))], axis=1)
    return np.diff(edges, axis=1)


def garnet(S: int, A: int, branching: int, seed, gamma: float = 0.99, sparse=None) -> FiniteMDP:
    """A Garnet(S, A, b) random MDP: ``b`` random successors per state-action pair.

    Parameters
    ----------
    S, A : int >= 1
        Numbers of states and actions.
    branching : int, 1 <= branching <= S
        Number of distinct successors of every ``(s, a)``.
    seed : int, sequence of ints or numpy.random.SeedSequence
        Passed to :func:`numpy.random.default_rng`; the MDP is a function of the seed.
    gamma : float in [0, 1)
        Discount (infinite horizon).
    sparse : bool or None
        ``None``: CSR ``(S*A, S)`` when ``S > 1000``, dense ``(S, A, S)`` otherwise.

    Returns
    -------
    FiniteMDP
        Rewards ``r(s, a) ~ U[0, 1]`` i.i.d., ``mu`` uniform over states.

    Notes
    -----
    Garnets ("Generic Average Reward Non-stationary Environment Testbed") were introduced
    by Archibald, McKinnon & Thomas, "On the generation of Markov decision processes",
    J. Oper. Res. Soc. 46 (1995); the form used here -- for each :math:`(s, a)`, ``b``
    successors drawn without replacement, transition probabilities from a uniform
    random partition of [0, 1], rewards uniform -- is that of Bhatnagar, Sutton,
    Ghavamzadeh & Lee, "Natural actor-critic algorithms", Automatica 45 (2009), §7.
    The construction is vectorised (no Python loop over states); ``S = 10^6, A = 4,
    b = 5`` takes seconds.

    Examples
    --------
    >>> mdp = garnet(20, 3, branching=4, seed=0)
    >>> bool(((mdp.P > 0).sum(axis=2) == 4).all())        # exactly b successors
    True
    >>> bool(np.allclose(mdp.P.sum(axis=2), 1))
    True
    """
    S, A = positive_int("S", S), positive_int("A", A)
    b = positive_int("branching", branching)
    if b > S:
        raise ValueError(f"branching must be <= S = {S}; got {b}")
    if not isinstance(gamma, (int, float, np.floating)) or not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must lie in [0, 1) for a Garnet (infinite horizon); got {gamma!r}")
    sparse = use_sparse(sparse, S, A)
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be a non-negative int, a sequence of them or a SeedSequence; "
                         f"got {seed!r} ({exc})") from None
    successors = distinct_successors(S * A, S, b, rng)
    probs = uniform_partition(S * A, b, rng)
    R = rng.random((S, A))
    P = sp.csr_matrix((probs.ravel(), successors.ravel(), np.arange(0, S * A * b + 1, b)), shape=(S * A, S))
    if not sparse:
        P = P.toarray().reshape(S, A, S)
    return FiniteMDP(P, R, np.full(S, 1.0 / S), gamma=gamma)
