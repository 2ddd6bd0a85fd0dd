r"""The moment recursion behind :mod:`tabular_pg.sampled.moments`: one backward pass over steps.

The derivation below is this library's own; the estimators it applies to are those of
"Lecture 6: The Policy Gradient" (REINFORCE with the total return) and S. Levine, CS 285
Lecture 5 "Policy Gradients" (reward-to-go and baselines), with the exact critics and GAE of
Schulman et al. 2016 "High-Dimensional Continuous Control Using Generalized Advantage
Estimation" as special cases.

**Random quantities.**  A trajectory :math:`s_0, a_0, s_1, a_1, \dots` of at most ``T`` steps,
:math:`s_0\sim\mu`, :math:`a_h\sim\pi_h(\cdot|s_h)`, :math:`s_{h+1}\sim P(\cdot|s_h,a_h)`,
stopped at terminal states.  Per step :math:`h`:

* the **score** :math:`\psi_h = \psi_h(s_h,a_h)\in\mathbb R^p` (:math:`\nabla_\theta\log\pi`,
  or any feature, e.g. :math:`\mathrm{vec}(\psi\psi^\top)` for the Fisher matrix);
* the **signal** :math:`\rho_h = \rho_h(s_h,a_h,s_{h+1}) = c_h\,r(s_h,a_h,s_{h+1}) + e_h(s_{h+1})
  + f_h(s_h,a_h)`, a scalar (discounted reward :math:`\gamma^h r_h`, or the TD error :math:`\delta_h` of GAE);
* the **weight** :math:`u_h = u_h(s_h,a_h)`, a scalar (a baseline :math:`-\gamma^h b_h(s_h)`, or an
  exact critic :math:`\gamma^h Q_h`), and constants :math:`\beta_h`, :math:`\zeta`, :math:`\eta`.

Backwards over steps, with :math:`Z_T = X_T = Y_T = 0` (and all three 0 from a terminal state):

.. math::
    Z_h &= \rho_h + \zeta Z_{h+1}                 \qquad \text{signal-to-go (scalar)}\\
    X_h &= \psi_h + X_{h+1}                       \qquad \text{score-to-go}\ (p)\\
    W_h &= u_h + \beta_h Z_h                      \qquad \text{weight of } \psi_h \text{ (scalar)}\\
    L_h &= \eta\,\rho_h X_{h+1} + Y_{h+1}         \qquad \text{part of } Y_h \text{ carried by later scores}\ (p)\\
    Y_h &= \psi_h W_h + L_h                       \qquad \text{estimate-to-go}\ (p)

so that :math:`Y_0 = \sum_h \psi_h (u_h + \beta_h Z_h) + \eta\sum_t \psi_t \sum_{h<t}\rho_h`.
REINFORCE: :math:`\rho_h = \gamma^h r_h`, :math:`\zeta = \beta_h = 1`; :math:`\eta = 1` adds the
past rewards to the reward-to-go :math:`Z_t`, giving :math:`\sum_t\psi_t\sum_h\gamma^h r_h` (total
return), :math:`\eta = 0` is reward-to-go; a baseline is :math:`u_h = -\gamma^h b_h(s_h)`.  Exact
critic: :math:`u_h = \gamma^h Q_h` (or :math:`A_h`), :math:`\beta = 0`.  GAE: :math:`\rho_h = \delta_h`,
:math:`\zeta = \gamma\lambda`, :math:`\beta_h = \gamma^h`.  The estimate is :math:`\hat g = Y_0`.

**Conditional moments.**  Given :math:`s_h = s` (and, within a step, given
:math:`(s_h, a_h) = (s, a)`) the recursion propagates the nine moments

.. math::
    \mathbb E[Z_h],\ \mathbb E[Z_h^2],\ \mathbb E[X_h],\ \mathbb E[X_h Z_h],\ \mathbb E[Y_h],\
    \mathbb E[Y_h Z_h],\ \mathbb E[X_h X_h^\top],\ \mathbb E[X_h Y_h^\top],\ \mathbb E[Y_h Y_h^\top]

(:class:`ConditionalMoments`): the mean and covariance of :math:`\hat g` need the last two
(:math:`\mathbb E[Y_0]`, :math:`\mathbb E[Y_0 Y_0^\top]`), and the others are what their
recursions call for, as :func:`backward_step` shows; the set closes on itself.

**Markov step.**  Given :math:`s_{h+1}`, the future :math:`(Z_{h+1}, X_{h+1}, Y_{h+1})` is
independent of :math:`(s_h, a_h)` and so of :math:`\rho_h`, which is a function of
:math:`(s_h, a_h, s_{h+1})`.  Hence for any of the nine products :math:`F_{h+1}` and
:math:`k\in\{0,1,2\}`

.. math::
    \mathbb E'_k[F] := \mathbb E[\rho_h^k F_{h+1} \mid s_h=s, a_h=a]
    = \sum_{s'} P(s'|s,a)\,\rho_h(s,a,s')^k\,\mathbb E[F_{h+1}\mid s_{h+1}=s'],

one sparse product of :math:`P\circ\rho_h^k` (shape ``(S*A, S)``) with the moments at ``h+1``.
Every moment is at most quadratic in :math:`(Z, X, Y)`, so :math:`\rho_h` appears at most
squared: :math:`k\le 2`.  :math:`\psi_h` and :math:`u_h` are constants given :math:`(s, a)`;
expanding each product by the definitions above and taking :math:`\mathbb E'` term by term
gives the moments given :math:`(s,a)` (:func:`backward_step`, Notes), then

.. math::
    \mathbb E[F_h \mid s_h=s] = 1[s \text{ not terminal}]\sum_a \pi_h(a|s)\,\mathbb E[F_h\mid s, a],

and finally :math:`\mathbb E[\hat g] = \sum_s\mu(s)\mathbb E[Y_0|s]`,
:math:`\mathrm{Cov}[\hat g] = \sum_s\mu(s)\mathbb E[Y_0Y_0^\top|s] - \mathbb E[\hat g]\mathbb E[\hat g]^\top`.
Cost :math:`O(T\,(\mathrm{nnz}(P) + SA)\,p^2)`: polynomial, never an enumeration of trajectories.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.samplers import rewards_on_support

__all__ = ["LinearSpec", "linear_moments", "ConditionalMoments", "backward_step"]


@dataclass(frozen=True)
class LinearSpec:
    r"""Coefficients of the recursion of the module docstring, over ``T`` steps.

    Attributes
    ----------
    weight : ndarray (T, S, A)
        :math:`u_h(s,a)`, the weight of :math:`\psi_h` that does not depend on the future.
    signal_weight : ndarray (T,)
        :math:`\beta_h`, the factor of the signal-to-go :math:`Z_h` in the weight of :math:`\psi_h`.
    signal_decay : float
        :math:`\zeta` in :math:`Z_h = \rho_h + \zeta Z_{h+1}`.
    past_signal_weight : float
        :math:`\eta`, the factor of the past signals :math:`\sum_{h<t}\rho_h` in the weight of :math:`\psi_t`.
    reward_scale : ndarray (T,)
        :math:`c_h` in the signal :math:`\rho_h(s,a,s') = c_h\,r(s,a,s') + e_h(s') + f_h(s,a)`.
    next_state_term : ndarray (T, S)
        :math:`e_h(s')`.
    state_action_term : ndarray (T, S, A)
        :math:`f_h(s,a)`.
    """

    weight: np.ndarray
    signal_weight: np.ndarray
    signal_decay: float
    past_signal_weight: float
    reward_scale: np.ndarray
    next_state_term: np.ndarray
    state_action_term: np.ndarray


@dataclass(frozen=True)
class ConditionalMoments:
    r"""The nine moments of the module docstring given the current state (or state-action pair).

    Each field has a leading axis of ``n`` rows (states ``s``, or pairs ``s*A+a``); ``p`` features.
    ``E_Z (n,)`` :math:`\mathbb E[Z_h|\cdot]`; ``E_ZZ (n,)`` :math:`\mathbb E[Z_h^2|\cdot]`;
    ``E_X (n, p)`` :math:`\mathbb E[X_h|\cdot]`; ``E_XZ (n, p)`` :math:`\mathbb E[X_hZ_h|\cdot]`;
    ``E_Y (n, p)`` :math:`\mathbb E[Y_h|\cdot]`; ``E_YZ (n, p)`` :math:`\mathbb E[Y_hZ_h|\cdot]`;
    ``E_XX (n, p, p)`` :math:`\mathbb E[X_hX_h^\top|\cdot]`; ``E_XY (n, p, p)``
    :math:`\mathbb E[X_hY_h^\top|\cdot]`; ``E_YY (n, p, p)`` :math:`\mathbb E[Y_hY_h^\top|\cdot]`.
    """

    E_Z: np.ndarray
    E_ZZ: np.ndarray
    E_X: np.ndarray
    E_XZ: np.ndarray
    E_Y: np.ndarray
    E_YZ: np.ndarray
    E_XX: np.ndarray
    E_XY: np.ndarray
    E_YY: np.ndarray

    @classmethod
    def zeros(cls, n: int, p: int) -> "ConditionalMoments":
        """The moments at ``h = T`` (:math:`Z_T = X_T = Y_T = 0`)."""
        vector, matrix = np.zeros((n, p)), np.zeros((n, p, p))
        return cls(np.zeros(n), np.zeros(n), vector, vector, vector, vector, matrix, matrix, matrix)

    def map(self, f) -> "ConditionalMoments":
        """Apply ``f`` to every field."""
        return ConditionalMoments(*(f(getattr(self, field.name)) for field in fields(self)))


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise :math:`a b^\\top`: ``(n, p), (n, p) -> (n, p, p)``."""
    return a[:, :, None] * b[:, None, :]


def backward_step(next_moments: ConditionalMoments, P_signal_powers, score, weight, signal_weight,
                  signal_decay, past_signal_weight) -> ConditionalMoments:
    r"""Moments given :math:`(s_h, a_h)` from those given :math:`s_{h+1}` (module docstring).

    Parameters
    ----------
    next_moments : ConditionalMoments
        Given :math:`s_{h+1}`, rows ``S``.
    P_signal_powers : tuple of three sparse ``(S*A, S)``
        :math:`P`, :math:`P\circ\rho_h`, :math:`P\circ\rho_h^2`: row ``s*A+a`` of the ``k``-th
        applied to a moment gives :math:`\mathbb E'_k` of it.
    score : ndarray (S*A, p)
        :math:`\psi_h`.
    weight : ndarray (S*A,)
        :math:`u_h`.
    signal_weight, signal_decay, past_signal_weight : float
        :math:`\beta_h`, :math:`\zeta`, :math:`\eta`.

    Returns
    -------
    ConditionalMoments
        Given :math:`(s_h, a_h)`, rows ``s*A+a``.

    Notes
    -----
    Primes are step :math:`h+1` (:math:`Z' = Z_{h+1}`, ...), unprimed quantities step :math:`h`,
    and :math:`\mathbb E` is given :math:`(s,a)`.  One statement of code per displayed equation,
    in order (``E_rho_Xnext_Ynext`` is :math:`\mathbb E'_1[X'Y'^\top]`, named because used twice).
    The signal moments (:math:`W` is :math:`u + \beta Z`; :math:`\rho` and :math:`Z'` are
    correlated through :math:`s'`, hence the cross term :math:`2\zeta\mathbb E'_1[Z']`):

    .. math::
        \mathbb E[Z] &= \mathbb E'_1[1] + \zeta\,\mathbb E'_0[Z'] \\
        \mathbb E[Z^2] &= \mathbb E'_2[1] + 2\zeta\,\mathbb E'_1[Z'] + \zeta^2\,\mathbb E'_0[Z'^2] \\
        \mathbb E[W] &= u + \beta\,\mathbb E[Z] \\
        \mathbb E[WZ] &= u\,\mathbb E[Z] + \beta\,\mathbb E[Z^2] \\
        \mathbb E[W^2] &= u^2 + 2u\beta\,\mathbb E[Z] + \beta^2\,\mathbb E[Z^2]

    The later scores :math:`X'` and the later part :math:`L = \eta\rho X' + Y'` of :math:`Y`,
    with their products with :math:`Z` and :math:`W`.  :math:`\mathbb E[X'Z]` and
    :math:`\mathbb E[X'W]` are not :math:`\mathbb E[X']\mathbb E[Z]`, ... : the weight of the
    current score depends on the same future as :math:`X'` (through :math:`\rho` and
    :math:`Z'`); :math:`\mathbb E[LZ]` serves both :math:`\mathbb E[YZ]` and :math:`\mathbb E[WL]`:

    .. math::
        \mathbb E[X'] &= \mathbb E'_0[X'] \\
        \mathbb E[\rho X'] &= \mathbb E'_1[X'] \\
        \mathbb E[X'Z] &= \mathbb E[\rho X'] + \zeta\,\mathbb E'_0[X'Z'] \\
        \mathbb E[X'W] &= u\,\mathbb E[X'] + \beta\,\mathbb E[X'Z] \\
        \mathbb E[L] &= \eta\,\mathbb E[\rho X'] + \mathbb E'_0[Y'] \\
        \mathbb E[LZ] &= \eta\,(\mathbb E'_2[X'] + \zeta\,\mathbb E'_1[X'Z'])
                         + \mathbb E'_1[Y'] + \zeta\,\mathbb E'_0[Y'Z'] \\
        \mathbb E[WL] &= u\,\mathbb E[L] + \beta\,\mathbb E[LZ] \\
        \mathbb E[X'L^\top] &= \eta\,\mathbb E'_1[X'X'^\top] + \mathbb E'_0[X'Y'^\top] \\
        \mathbb E[LL^\top] &= \eta^2\,\mathbb E'_2[X'X'^\top]
            + \eta\,(\mathbb E'_1[X'Y'^\top] + \mathbb E'_1[X'Y'^\top]^\top) + \mathbb E'_0[Y'Y'^\top]

    (the :math:`\eta` cross term of :math:`LL^\top`: the past-signal part :math:`\eta\rho X'`
    and :math:`Y'` both depend on the later scores).  Finally :math:`X = \psi + X'` and
    :math:`Y = \psi W + L` with :math:`\psi` constant: each product expands into the constant
    part, two cross terms (:math:`\psi` times the mean of the other factor's future part: the
    partial sums are not centred) and the future part:

    .. math::
        \mathbb E[X] &= \psi + \mathbb E[X'] \\
        \mathbb E[XZ] &= \psi\,\mathbb E[Z] + \mathbb E[X'Z] \\
        \mathbb E[Y] &= \psi\,\mathbb E[W] + \mathbb E[L] \\
        \mathbb E[YZ] &= \psi\,\mathbb E[WZ] + \mathbb E[LZ] \\
        \mathbb E[XX^\top] &= \psi\psi^\top + \psi\,\mathbb E[X']^\top + \mathbb E[X']\,\psi^\top
                              + \mathbb E'_0[X'X'^\top] \\
        \mathbb E[XY^\top] &= \psi\psi^\top\,\mathbb E[W] + \psi\,\mathbb E[L]^\top
                              + \mathbb E[X'W]\,\psi^\top + \mathbb E[X'L^\top] \\
        \mathbb E[YY^\top] &= \psi\psi^\top\,\mathbb E[W^2] + \psi\,\mathbb E[WL]^\top
                              + \mathbb E[WL]\,\psi^\top + \mathbb E[LL^\top]
    """
    def E_next(k, moment):
        """:math:`\\mathbb E'_k` of ``moment`` (rows ``S``): rows ``S*A``, same trailing shape."""
        flat = P_signal_powers[k] @ moment.reshape(moment.shape[0], -1)
        return flat.reshape(P_signal_powers[k].shape[0], *moment.shape[1:])

    ones = np.ones(P_signal_powers[0].shape[1])
    E_Z = E_next(1, ones) + signal_decay * E_next(0, next_moments.E_Z)
    E_ZZ = (E_next(2, ones) + 2 * signal_decay * E_next(1, next_moments.E_Z)
            + signal_decay ** 2 * E_next(0, next_moments.E_ZZ))
    E_W = weight + signal_weight * E_Z
    E_WZ = weight * E_Z + signal_weight * E_ZZ
    E_WW = weight ** 2 + 2 * weight * signal_weight * E_Z + signal_weight ** 2 * E_ZZ

    weight_col = weight[:, None]
    E_Xnext = E_next(0, next_moments.E_X)
    E_rho_Xnext = E_next(1, next_moments.E_X)
    E_Xnext_Z = E_rho_Xnext + signal_decay * E_next(0, next_moments.E_XZ)
    E_Xnext_W = weight_col * E_Xnext + signal_weight * E_Xnext_Z
    E_L = past_signal_weight * E_rho_Xnext + E_next(0, next_moments.E_Y)
    E_LZ = (past_signal_weight * (E_next(2, next_moments.E_X) + signal_decay * E_next(1, next_moments.E_XZ))
            + E_next(1, next_moments.E_Y) + signal_decay * E_next(0, next_moments.E_YZ))
    E_WL = weight_col * E_L + signal_weight * E_LZ
    E_Xnext_L = past_signal_weight * E_next(1, next_moments.E_XX) + E_next(0, next_moments.E_XY)
    E_rho_Xnext_Ynext = E_next(1, next_moments.E_XY)
    E_LL = (past_signal_weight ** 2 * E_next(2, next_moments.E_XX)
            + past_signal_weight * (E_rho_Xnext_Ynext + E_rho_Xnext_Ynext.transpose(0, 2, 1))
            + E_next(0, next_moments.E_YY))

    score_score = _outer(score, score)
    return ConditionalMoments(
        E_Z=E_Z, E_ZZ=E_ZZ,
        E_X=score + E_Xnext,
        E_XZ=score * E_Z[:, None] + E_Xnext_Z,
        E_Y=score * E_W[:, None] + E_L,
        E_YZ=score * E_WZ[:, None] + E_LZ,
        E_XX=score_score + _outer(score, E_Xnext) + _outer(E_Xnext, score) + E_next(0, next_moments.E_XX),
        E_XY=score_score * E_W[:, None, None] + _outer(score, E_L) + _outer(E_Xnext_W, score) + E_Xnext_L,
        E_YY=score_score * E_WW[:, None, None] + _outer(score, E_WL) + _outer(E_WL, score) + E_LL)


def _signal_powers(P: sp.csr_matrix, nonzero_rows: np.ndarray, reward_on_support: np.ndarray,
                   spec: LinearSpec, h: int) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    r""":math:`P`, :math:`P\circ\rho_h`, :math:`P\circ\rho_h^2` as CSR ``(S*A, S)``.

    :math:`\rho_h(s,a,s') = c_h\,r(s,a,s') + e_h(s') + f_h(s,a)` at each nonzero of ``P``
    (row ``nonzero_rows``, column ``P.indices``).
    """
    rho = (spec.reward_scale[h] * reward_on_support + spec.next_state_term[h][P.indices]
           + spec.state_action_term[h].reshape(-1)[nonzero_rows])
    shape = P.shape
    return (P, sp.csr_matrix((P.data * rho, P.indices, P.indptr), shape=shape),
            sp.csr_matrix((P.data * rho ** 2, P.indices, P.indptr), shape=shape))


def _average_over_actions(moments_given_sa: ConditionalMoments, pi_h: np.ndarray,
                          terminal: np.ndarray) -> ConditionalMoments:
    r""":math:`\mathbb E[F_h|s] = 1[s\ \text{not terminal}]\sum_a\pi_h(a|s)\,\mathbb E[F_h|s,a]`; ``pi_h (S, A)``."""
    S, A = pi_h.shape

    def average(moment):
        given_s = np.einsum("sa,sa...->s...", pi_h, moment.reshape(S, A, *moment.shape[1:]))
        given_s[terminal] = 0.0
        return given_s

    return moments_given_sa.map(average)


def linear_moments(mdp: FiniteMDP, policy: Policy, theta, spec: LinearSpec,
                   features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean ``(p,)`` and covariance ``(p, p)`` of :math:`Y_0` for the recursion ``spec``.

    ``features (T, S, A, p)`` take the place of the score :math:`\psi` (default: the
    policy's score, ``p = d``), e.g. :math:`\mathrm{vec}(\psi\psi^\top)` for the Fisher matrix.

    Examples
    --------
    One state, two actions, one step, reward 1 for action 0; REINFORCE :math:`\psi_0 r_0` with
    :math:`\psi = \pm(1/2, -1/2)` w.p. 1/2 each:

    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> spec = LinearSpec(weight=np.zeros((1, 1, 2)), signal_weight=np.ones(1), signal_decay=1.0,
    ...                   past_signal_weight=0.0, reward_scale=np.ones(1), next_state_term=np.zeros((1, 1)),
    ...                   state_action_term=np.zeros((1, 1, 2)))
    >>> mean, cov = linear_moments(mdp, pol, th, spec)
    >>> mean.tolist(), np.round(cov, 12).tolist()
    ([0.25, -0.25], [[0.0625, -0.0625], [-0.0625, 0.0625]])
    """
    theta = policy.check_theta(theta)
    T, S, A = spec.weight.shape
    P = sp.csr_matrix(mdp.P_sa, copy=True)
    P.eliminate_zeros()
    nonzero_rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
    reward_on_support = rewards_on_support(mdp, P, nonzero_rows)
    pi_per_step = np.broadcast_to(policy.probs(theta), (T, S, A))
    score = policy.score(theta) if features is None else features
    score_per_step = np.broadcast_to(score, (T, S, A, score.shape[-1]))
    terminal = mdp.terminal_states()
    moments = ConditionalMoments.zeros(S, score.shape[-1])
    for h in range(T - 1, -1, -1):
        P_signal_powers = _signal_powers(P, nonzero_rows, reward_on_support, spec, h)
        moments_given_sa = backward_step(moments, P_signal_powers, score_per_step[h].reshape(S * A, -1),
                                         spec.weight[h].reshape(-1), spec.signal_weight[h],
                                         spec.signal_decay, spec.past_signal_weight)
        moments = _average_over_actions(moments_given_sa, pi_per_step[h], terminal)
    mean = mdp.mu @ moments.E_Y
    second = np.einsum("s,sij->ij", mdp.mu, moments.E_YY)
    cov = second - np.outer(mean, mean)
    return mean, (cov + cov.T) / 2
