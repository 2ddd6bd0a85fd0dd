"""The vanishing-gradient chain of Agarwal, Kakade, Lee & Mahajan (2021)."""
from __future__ import annotations

import numpy as np

from mdps._build import assemble, positive_int

__all__ = ["agarwal_chain"]


def agarwal_chain(H: int, n_actions: int = 4, gamma: float | None = None, sparse=None):
    """The chain MDP of Agarwal et al. (2021), Figure 2 / Proposition 4.1.

    States ``s_0, ..., s_{H+1}`` (indices ``0..H+1``), start ``s_0``, discount
    ``gamma = H / (H + 1)``.  In ``s_1..s_H`` action 0 (the paper's :math:`a_1`) moves
    right to :math:`s_{h+1}` and every other action moves left to :math:`s_{h-1}`;
    ``s_0`` moves to ``s_1`` whatever the action; ``s_{H+1}`` is absorbing with reward
    1 per step.  All other rewards are 0.

    Parameters
    ----------
    H : int >= 1
        ``H + 2`` states.
    n_actions : int >= 2
        The paper uses 4 (:math:`a_1, \\dots, a_4`).
    gamma : float or None
        ``None`` for the paper's ``H / (H + 1)``.
    sparse : bool or None

    Returns
    -------
    FiniteMDP
        Infinite horizon, ``mu = e_{s_0}``.

    Notes
    -----
    Agarwal, Kakade, Lee & Mahajan, "On the Theory of Policy Gradient Methods:
    Optimality, Approximation, and Distribution Shift", JMLR 22(98), 2021, §4.3,
    Figure 2, Proposition 4.1 and its proof in Appendix B.2.  What the construction
    follows, and from where:

    * ``H + 2`` states, start :math:`s_0`, :math:`\\gamma = H/(H+1)`, four actions, the
      direct parameterisation (§4.3 and Proposition 4.1);
    * :math:`s_0` and :math:`s_{H+1}` have a single action (App. B.2); here every
      action there does the same thing;
    * the only entries of :math:`P_\\theta` that depend on :math:`\\theta_{s_h}` are
      :math:`P_{h,h+1} = \\theta_{h,a_1}` and :math:`P_{h,h-1} = 1 - \\theta_{h,a_1}`
      (App. B.2, proof of Lemma B.2): :math:`a_1` goes right, the others go left;
    * "the only rewards are obtained in the state :math:`s_{H+1}`" and
      :math:`V^{\\pi_\\theta}(s_0) = [(I - \\gamma P_\\theta)^{-1}]_{0, H+1}` (App. B.2),
      i.e. reward 1 per step in the absorbing :math:`s_{H+1}`, so that
      :math:`V^\\star(s_0) = (H+1)\\,\\gamma^{H+1} \\ge (H+1)/8`, the value used in the
      proof of Proposition 4.1.

    Inferred rather than read: Figure 2 itself was not available as text, so that
    :math:`s_0`'s action leads to :math:`s_1` and that :math:`s_{H+1}` is absorbing are
    read off the matrix :math:`P_\\theta` and the value :math:`V^\\star(s_0)` above.
    Proposition 4.1 is a statement about the *direct* parameterisation: for
    :math:`\\theta_{s,a_1} < 1/4` all derivatives of order up to :math:`H/(40\\log 2H)-1`
    are at most :math:`(1/3)^{H/4}` while :math:`V^\\star(s_0) - V^{\\pi_\\theta}(s_0)
    \\ge (H+1)/8 - (H+1)^2/3^H`.

    Examples
    --------
    >>> mdp = agarwal_chain(5)
    >>> mdp.n_states, mdp.n_actions, round(mdp.gamma, 4)
    (7, 4, 0.8333)
    >>> S = mdp.n_states; P_star = mdp.P[:, 0, :]          # always a_1
    >>> V = np.linalg.solve(np.eye(S) - mdp.gamma * P_star, mdp.R[:, 0])
    >>> bool(np.isclose(V[0], 6 * (5 / 6) ** 6))          # V*(s_0) = (H+1) gamma^(H+1)
    True
    """
    H = positive_int("H", H)
    A = positive_int("n_actions", n_actions, minimum=2)
    gamma = H / (H + 1) if gamma is None else gamma
    S = H + 2
    s, a = np.divmod(np.arange(S * A), A)
    nxt = np.where(a == 0, s + 1, s - 1)
    nxt[s == 0] = 1
    nxt[s == H + 1] = H + 1
    R = np.zeros((S, A))
    R[H + 1] = 1.0
    mu = np.zeros(S)
    mu[0] = 1.0
    return assemble(s * A + a, nxt, np.ones(S * A), S, A, R, mu, gamma, sparse=sparse)
