"""The exploration chain of "Policy Gradient (continued)" ("Policy gradient cannot do exploration")."""
from __future__ import annotations

import numpy as np

from mdps._build import assemble, positive_int

__all__ = ["chain"]

_RESETS = ("start", "uniform")


def chain(H: int, n_actions: int = 3, reset: str = "start", gamma: float = 1.0, sparse=None):
    """The length-``H`` chain on which a random policy almost never sees the reward.

    States ``s_0, ..., s_{H-1}`` (indices ``0..H-1``) and an absorbing, zero-reward goal
    ``g`` (index ``H``).  In ``s_i`` action 0 advances to ``s_{i+1}`` (from ``s_{H-1}``
    to ``g``, with reward 1); every other action returns to ``s_0`` with reward 0.  The
    horizon is ``H``, so the reward is collected only by ``H`` advances in a row from
    ``s_0``.

    Parameters
    ----------
    H : int >= 1
        Length of the chain, also the horizon.
    n_actions : int >= 1
        Number of actions; action 0 advances, the others reset.  The lecture uses 3.
    reset : {"start", "uniform"}
        Start distribution: ``"start"`` puts all mass on ``s_0`` (the lecture's hard
        case); ``"uniform"`` starts uniformly on ``s_0..s_{H-1}`` (the lecture's fix 2,
        "start uniform randomly along the chain instead of just s_0").
    gamma : float in [0, 1]
        Discount of the finite-horizon objective (the lecture: 1).
    sparse : bool or None
        Storage of ``P``; ``None`` chooses sparse for more than 1000 states.

    Returns
    -------
    FiniteMDP
        ``H + 1`` states, ``n_actions`` actions, ``horizon = H``.

    Notes
    -----
    Source: "Policy Gradient (continued)", slide "Policy gradient cannot do exploration":
    initialisation :math:`s_0`, chain of length :math:`H`, reward 1 at the end, and
    "probability of random walk hitting reward 1 is :math:`(1/3)^{-H}`" -- the exponent's
    sign is a typo on the slide; the probability is

    .. math:: J(\\pi_{\\mathrm{unif}}) = P(a_0 = \\dots = a_{H-1} = 0) = |\\mathcal A|^{-H},

    since only the all-advance action sequence reaches the goal within ``H`` steps.
    With ``reset="uniform"`` a start in :math:`s_i` needs only :math:`H - i` advances.

    Examples
    --------
    >>> mdp = chain(4)
    >>> mdp.n_states, mdp.n_actions, mdp.horizon
    (5, 3, 4)
    >>> V = np.zeros(mdp.n_states)                      # backward recursion, uniform policy
    >>> for _ in range(mdp.horizon):
    ...     V = (mdp.R + mdp.gamma * mdp.P @ V).mean(axis=1)
    >>> bool(np.isclose(mdp.mu @ V, 3.0 ** -4))          # J = 3^-H
    True
    """
    H = positive_int("H", H)
    A = positive_int("n_actions", n_actions)
    if reset not in _RESETS:
        raise ValueError(f"reset must be one of {_RESETS}; got {reset!r}")
    S = H + 1
    s, a = np.divmod(np.arange(S * A), A)
    nxt = np.where(a == 0, s + 1, 0)
    nxt[s == H] = H                                           # goal is absorbing
    R = np.zeros((S, A))
    R[H - 1, 0] = 1.0
    mu = np.zeros(S)
    if reset == "start":
        mu[0] = 1.0
    else:
        mu[:H] = 1.0 / H
    return assemble(s * A + a, nxt, np.ones(S * A), S, A, R, mu, gamma, horizon=H, sparse=sparse)
