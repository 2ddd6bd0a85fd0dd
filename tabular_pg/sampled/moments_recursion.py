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

**Other path measures.**  Nothing above uses :math:`\sum_a\pi_h(a|s) = 1` except through the
mass of the future; so :math:`\pi_h` may be replaced by any action measure :math:`k_h`
(:attr:`LinearSpec.kernel`; :class:`~tabular_pg.sampled.moments_blocks.RecursionInputs` restores
the future mass when :math:`k` does not sum to 1), and a per-decision importance weight
:math:`c_h(s,a)`, a constant given :math:`(s,a)`, multiplies :math:`\rho_h`, :math:`u_h`,
:math:`\zeta` and the carried :math:`Y_{h+1}` (:attr:`LinearSpec.importance`): the off-policy
estimators of :mod:`tabular_pg.sampled.importance`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

__all__ = ["LinearSpec", "ConditionalMoments", "FirstMoments", "StepTerms", "backward_step", "first_order_step",
           "average_over_actions"]


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
    importance : ndarray (T, S, A) or None
        Per-decision importance weight :math:`c_h(s,a)` (``None``: 1): step ``h`` and everything
        after it are weighted by :math:`c_h`, :math:`Z_h = c_h(\rho_h + \zeta Z_{h+1})`,
        :math:`W_h = c_h u_h + \beta_h Z_h`, :math:`L_h = c_h(\eta\rho_h X_{h+1} + Y_{h+1})`.
    kernel : ndarray (T, S, A) or None
        The action measure :math:`k_h(a|s)` of the paths the mean is taken over (``None``: the
        policy); it need not sum to 1 (a truncated or squared importance weight times the behaviour).
    second_kernel : ndarray (T, S, A) or None
        The action measure of the second moment (``None``: ``kernel``).
    """

    weight: np.ndarray
    signal_weight: np.ndarray
    signal_decay: float
    past_signal_weight: float
    reward_scale: np.ndarray
    next_state_term: np.ndarray
    state_action_term: np.ndarray
    importance: np.ndarray | None = None
    kernel: np.ndarray | None = None
    second_kernel: np.ndarray | None = None


@dataclass(frozen=True)
class FirstMoments:
    r"""The six moments of first order in :math:`X, Y` (the first six of :class:`ConditionalMoments`).

    All the mean of :math:`\hat g` needs; fields as in :class:`ConditionalMoments`.
    """

    E_Z: np.ndarray
    E_ZZ: np.ndarray
    E_X: np.ndarray | None      # None when the scores to go are not carried (first_order_step)
    E_XZ: np.ndarray | None
    E_Y: np.ndarray
    E_YZ: np.ndarray

    @classmethod
    def zeros(cls: type[_Moments], n: int, p: int) -> _Moments:
        """The moments at ``h = T`` (:math:`Z_T = X_T = Y_T = 0`)."""
        vector, n_matrices = np.zeros((n, p)), len(fields(cls)) - 6
        matrices = (np.zeros((n, p, p)),) * n_matrices if n_matrices else ()
        return cls(np.zeros(n), np.zeros(n), vector, vector, vector, vector, *matrices)

    def map(self, f):
        """Apply ``f`` to every field that is not None (a moments object of the same class)."""
        return type(self)(*(None if getattr(self, field.name) is None else f(getattr(self, field.name))
                            for field in fields(self)))

    def first(self) -> FirstMoments:
        """The six moments of first order (no matrices)."""
        return FirstMoments(*(getattr(self, field.name) for field in fields(FirstMoments)))


_Moments = TypeVar("_Moments", bound=FirstMoments)     # FirstMoments or ConditionalMoments


@dataclass(frozen=True)
class ConditionalMoments(FirstMoments):
    r"""The nine moments of the module docstring given the current state (or state-action pair).

    Each field has a leading axis of ``n`` rows (states ``s``, or pairs ``s*A+a``); ``p`` features.
    ``E_Z (n,)`` :math:`\mathbb E[Z_h|\cdot]`; ``E_ZZ (n,)`` :math:`\mathbb E[Z_h^2|\cdot]`;
    ``E_X (n, p)`` :math:`\mathbb E[X_h|\cdot]`; ``E_XZ (n, p)`` :math:`\mathbb E[X_hZ_h|\cdot]`;
    ``E_Y (n, p)`` :math:`\mathbb E[Y_h|\cdot]`; ``E_YZ (n, p)`` :math:`\mathbb E[Y_hZ_h|\cdot]`;
    ``E_XX (n, p, p)`` :math:`\mathbb E[X_hX_h^\top|\cdot]`; ``E_XY (n, p, p)``
    :math:`\mathbb E[X_hY_h^\top|\cdot]`; ``E_YY (n, p, p)`` :math:`\mathbb E[Y_hY_h^\top|\cdot]`.
    """

    E_XX: np.ndarray
    E_XY: np.ndarray
    E_YY: np.ndarray


@dataclass(frozen=True)
class StepTerms:
    r"""What the second moments take from one step, given :math:`(s_h,a_h)` (rows ``n``).

    ``E_W, E_WW (n,)``: :math:`\mathbb E[W], \mathbb E[W^2]`; ``E_Xnext, E_L, E_Xnext_W, E_WL (n, p)``:
    :math:`\mathbb E[X'], \mathbb E[L], \mathbb E[X'W], \mathbb E[WL]` (:func:`backward_step`, Notes).
    """

    E_W: np.ndarray
    E_WW: np.ndarray
    E_Xnext: np.ndarray | None      # None when the scores to go are not carried (first_order_step)
    E_L: np.ndarray
    E_Xnext_W: np.ndarray | None
    E_WL: np.ndarray


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise :math:`a b^\\top`: ``(n, p), (n, p) -> (n, p, p)``."""
    return a[:, :, None] * b[:, None, :]


def backward_step(next_moments: ConditionalMoments, P_signal_powers, score, weight, signal_weight,
                  signal_decay, past_signal_weight, carry=1.0) -> ConditionalMoments:
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
        :math:`\beta_h`, :math:`\zeta`, :math:`\eta`; ``signal_decay`` may be an ``(S*A,)`` array.
    carry : float or ndarray (S*A,)
        :math:`\kappa` in :math:`L = \eta\rho X' + \kappa Y'` (1, or a per-decision importance weight).

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

    The later scores :math:`X'` and the later part :math:`L = \eta\rho X' + \kappa Y'` of :math:`Y`
    (:math:`\kappa = 1` on the policy's own paths; a per-decision importance weight otherwise),
    with their products with :math:`Z` and :math:`W`.  :math:`\mathbb E[X'Z]` and
    :math:`\mathbb E[X'W]` are not :math:`\mathbb E[X']\mathbb E[Z]`, ... : the weight of the
    current score depends on the same future as :math:`X'` (through :math:`\rho` and
    :math:`Z'`); :math:`\mathbb E[LZ]` serves both :math:`\mathbb E[YZ]` and :math:`\mathbb E[WL]`:

    .. math::
        \mathbb E[X'] &= \mathbb E'_0[X'] \\
        \mathbb E[\rho X'] &= \mathbb E'_1[X'] \\
        \mathbb E[X'Z] &= \mathbb E[\rho X'] + \zeta\,\mathbb E'_0[X'Z'] \\
        \mathbb E[X'W] &= u\,\mathbb E[X'] + \beta\,\mathbb E[X'Z] \\
        \mathbb E[L] &= \eta\,\mathbb E[\rho X'] + \kappa\,\mathbb E'_0[Y'] \\
        \mathbb E[LZ] &= \eta\,(\mathbb E'_2[X'] + \zeta\,\mathbb E'_1[X'Z'])
                         + \kappa\,(\mathbb E'_1[Y'] + \zeta\,\mathbb E'_0[Y'Z']) \\
        \mathbb E[WL] &= u\,\mathbb E[L] + \beta\,\mathbb E[LZ] \\
        \mathbb E[X'L^\top] &= \eta\,\mathbb E'_1[X'X'^\top] + \kappa\,\mathbb E'_0[X'Y'^\top] \\
        \mathbb E[LL^\top] &= \eta^2\,\mathbb E'_2[X'X'^\top]
            + \eta\kappa\,(\mathbb E'_1[X'Y'^\top] + \mathbb E'_1[X'Y'^\top]^\top) + \kappa^2\,\mathbb E'_0[Y'Y'^\top]

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
    E_next = _expectation(P_signal_powers)
    first, terms = first_order_step(next_moments.first(), P_signal_powers, score, weight, signal_weight,
                                    signal_decay, past_signal_weight, carry)
    E_Xnext, E_Xnext_W = terms.E_Xnext, terms.E_Xnext_W
    if E_Xnext is None or E_Xnext_W is None:        # first_order_step carries the scores to go by default
        raise ValueError("backward_step needs the scores to go (first_order_step with scores_to_go=True)")
    eta, kappa = past_signal_weight, _rows(carry, 3)
    E_Xnext_L = eta * E_next(1, next_moments.E_XX) + kappa * E_next(0, next_moments.E_XY)
    E_rho_Xnext_Ynext = kappa * E_next(1, next_moments.E_XY)
    E_LL = (eta ** 2 * E_next(2, next_moments.E_XX) + eta * (E_rho_Xnext_Ynext + E_rho_Xnext_Ynext.transpose(0, 2, 1))
            + kappa ** 2 * E_next(0, next_moments.E_YY))

    score_score = _outer(score, score)
    return ConditionalMoments(
        **{f.name: getattr(first, f.name) for f in fields(first)},
        E_XX=score_score + _outer(score, E_Xnext) + _outer(E_Xnext, score) + E_next(0, next_moments.E_XX),
        E_XY=(score_score * terms.E_W[:, None, None] + _outer(score, terms.E_L) + _outer(E_Xnext_W, score)
              + E_Xnext_L),
        E_YY=score_score * terms.E_WW[:, None, None] + _outer(score, terms.E_WL) + _outer(terms.E_WL, score) + E_LL)


def _rows(x, ndim: int):
    """A scalar as is; a per-row ``(n,)`` array shaped to broadcast against ``ndim``-dimensional moments."""
    x = np.asarray(x, dtype=float)
    return x if x.ndim == 0 else x.reshape(x.shape + (1,) * (ndim - 1))


def _expectation(P_signal_powers):
    """``E_next(k, moment)``: :math:`\\mathbb E'_k` of a moment given :math:`s'` (rows ``S``), rows ``S*A``."""
    def E_next(k, moment):
        flat = P_signal_powers[k] @ moment.reshape(moment.shape[0], -1)
        return flat.reshape(P_signal_powers[k].shape[0], *moment.shape[1:])
    return E_next


def first_order_step(next_moments: FirstMoments, P_signal_powers, score, weight, signal_weight, signal_decay,
                     past_signal_weight, carry=1.0, scores_to_go: bool = True) -> tuple[FirstMoments, StepTerms]:
    r"""The six first-order moments given :math:`(s_h,a_h)` and the :class:`StepTerms` of the step.

    The first-order half of :func:`backward_step` (same arguments, same Notes): cost
    :math:`O((\mathrm{nnz}(P) + SA)\,p)`, no ``(S*A, p, p)`` array.  ``scores_to_go=False``
    (only with :math:`\eta = 0`, when nothing asks for moments of :math:`X`): the moments of
    :math:`X` are not computed and are ``None``.
    """
    E_next = _expectation(P_signal_powers)
    zeta, zeta_col, kappa = signal_decay, _rows(signal_decay, 2), _rows(carry, 2)
    eta, u, beta = past_signal_weight, weight, signal_weight
    ones = np.ones(P_signal_powers[0].shape[1])
    E_Z = E_next(1, ones) + zeta * E_next(0, next_moments.E_Z)
    E_ZZ = E_next(2, ones) + 2 * zeta * E_next(1, next_moments.E_Z) + zeta ** 2 * E_next(0, next_moments.E_ZZ)
    E_W = u + beta * E_Z
    E_WZ = u * E_Z + beta * E_ZZ
    E_WW = u ** 2 + 2 * u * beta * E_Z + beta ** 2 * E_ZZ

    u_col = u[:, None]
    E_L = kappa * E_next(0, next_moments.E_Y)
    E_LZ = kappa * (E_next(1, next_moments.E_Y) + zeta_col * E_next(0, next_moments.E_YZ))
    E_X = E_XZ = E_Xnext = E_Xnext_W = None
    if scores_to_go:
        E_Xnext = E_next(0, next_moments.E_X)
        E_rho_Xnext = E_next(1, next_moments.E_X)
        E_Xnext_Z = E_rho_Xnext + zeta_col * E_next(0, next_moments.E_XZ)
        E_Xnext_W = u_col * E_Xnext + beta * E_Xnext_Z
        E_L = eta * E_rho_Xnext + E_L
        E_LZ = eta * (E_next(2, next_moments.E_X) + zeta_col * E_next(1, next_moments.E_XZ)) + E_LZ
        E_X, E_XZ = score + E_Xnext, score * E_Z[:, None] + E_Xnext_Z
    elif eta != 0:
        raise ValueError(f"scores_to_go=False needs past_signal_weight = 0; got {eta!r}")
    E_WL = u_col * E_L + beta * E_LZ
    first = FirstMoments(E_Z=E_Z, E_ZZ=E_ZZ, E_X=E_X, E_XZ=E_XZ, E_Y=score * E_W[:, None] + E_L,
                         E_YZ=score * E_WZ[:, None] + E_LZ)
    return first, StepTerms(E_W, E_WW, E_Xnext, E_L, E_Xnext_W, E_WL)


def average_over_actions(moments_given_sa, kernel_h: np.ndarray, terminal: np.ndarray):
    r""":math:`\mathbb E[F_h|s] = 1[s\ \text{not terminal}]\sum_a k_h(a|s)\,\mathbb E[F_h|s,a]`; ``kernel_h (S, A)``.

    ``moments_given_sa``: :class:`ConditionalMoments` or :class:`FirstMoments` with rows ``S*A``.
    """
    S, A = kernel_h.shape

    def average(moment):
        given_s = np.einsum("sa,sa...->s...", kernel_h, moment.reshape(S, A, *moment.shape[1:]))
        given_s[terminal] = 0.0
        return given_s

    return moments_given_sa.map(average)
