"""Multi-armed bandits as one-state, one-step MDPs."""
from __future__ import annotations

import numpy as np

from tabular_pg._checks import as_float_array
from tabular_pg.mdp import FiniteMDP

__all__ = ["bandit"]


def bandit(means) -> FiniteMDP:
    """A ``K``-armed bandit: one state, ``K`` actions, horizon 1, reward ``means[a]``.

    Parameters
    ----------
    means : array_like (K,)
        Expected reward of each arm, ``K >= 1``, finite.

    Returns
    -------
    FiniteMDP
        ``S = 1``, ``A = K``, ``gamma = 1``, ``horizon = 1``.

    Notes
    -----
    The bandit is the one-step special case of the MDP (Sutton & Barto, 2018, ch. 2;
    "Lecture 6: The Policy Gradient"'s objective with :math:`H = 1`):

    .. math:: J(\\pi) = \\sum_a \\pi(a)\\, \\mathrm{means}[a].

    Examples
    --------
    >>> mdp = bandit([0.2, 0.5, 0.9])
    >>> pi = np.array([[0.5, 0.25, 0.25]])
    >>> float(pi[0] @ mdp.R[0])                           # J = pi . means
    0.45
    """
    means = as_float_array("means", means)
    if means.ndim != 1 or means.size == 0:
        raise ValueError(f"means must have shape (K,) with K >= 1; got shape {means.shape}")
    if not np.all(np.isfinite(means)):
        raise ValueError(f"means must be finite; got {means.tolist()}")
    K = means.size
    return FiniteMDP(np.ones((1, K, 1)), means[None, :], np.ones(1), gamma=1.0, horizon=1)
