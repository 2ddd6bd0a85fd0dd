r"""The two paths of the moment recursion, and the one entry point :func:`linear_moments`.

**Dense path** (:func:`~tabular_pg.sampled.moments_blocks.dense_moments`): the nine conditional
moments of :mod:`tabular_pg.sampled.moments_recursion` at every step, three of them
``(S*A, p, p)`` arrays: cost :math:`O(T\,\mathrm{nnz}(P)\,p^2)`, memory :math:`O(SA\,p^2)`.  Any
score or feature (``LogLinear``, ``Direct``, :math:`\mathrm{vec}(\psi\psi^\top)` for the Fisher).

**Block path** (:func:`block_moments`, tabular softmax).  The output needs only
:math:`\sum_s\mu(s)\,\mathbb E[Y_0Y_0^\top|s]`, a linear function of the three matrix moments
:math:`M^{XX}, M^{XY}, M^{YY}` at step 0, and each step maps the matrix moments at ``h+1``
linearly (through :math:`P\circ\rho^k`) into those at ``h``, plus *local* terms built from
the score and first-order moments (:func:`~tabular_pg.sampled.moments_recursion.backward_step`,
Notes).  So the matrices are never propagated: the adjoint weights of the matrix moments,
one scalar per state and kind, run forwards from :math:`a^{YY}_0 = \mu`,
:math:`a^{XX}_0 = a^{XY}_0 = 0` (with :math:`b^m_h(s,a) = 1[s\ \text{not terminal}]\,a^m_h(s)\,k_h(a|s)`,
:math:`k` the action measure, :math:`\kappa` the carry and :math:`P_k = P\circ\tilde\rho_h^k`):

.. math::
    a^{XX}_{h+1} &= P_0^\top b^{XX} + 2\eta\,P_1^\top b^{XY} + \eta^2 P_2^\top b^{YY} \\
    a^{XY}_{h+1} &= P_0^\top(\kappa b^{XY}) + \eta\,P_1^\top(\kappa b^{YY}) \\
    a^{YY}_{h+1} &= P_0^\top(\kappa^2 b^{YY})

(:math:`a^{XY}` weighs :math:`M^{XY} + M^{XY\top}`, the recursion being symmetric under transposition),
and the first-order moments run backwards as before; step ``h`` adds its local terms,

.. math::
    \mathbb E[Y_0Y_0^\top] = \sum_h \sum_{s,a} w_h(s,a)\,\psi\psi^\top + G_h + G_h^\top, \quad
    G_h = \sum_{s,a}\psi(s,a)\,v_h(s,a)^\top,

with :math:`w = b^{XX} + 2b^{XY}\mathbb E[W] + b^{YY}\mathbb E[W^2]` and
:math:`v = b^{XX}\mathbb E[X'] + b^{XY}(\mathbb E[L] + \mathbb E[X'W]) + b^{YY}\mathbb E[WL]`.
A tabular softmax score :math:`\psi(s,a) = e_{s,a} - \sum_b\pi(b|s)e_{s,b}` lives on state
``s``'s block of ``A`` entries, so :math:`\sum w\,\psi\psi^\top` is block diagonal (``S``
blocks ``A x A``) and the block rows of :math:`G_h` are :math:`v(s,b) - \pi(b|s)\sum_a v(s,a)`:
cost :math:`O(T\,(\mathrm{nnz}(P) + SA)\,d + T d^2)`, memory :math:`O(SA\,d + d^2)` instead of
:math:`O(SA\,d^2)`.  The derivation is this library's own (reverse-mode accumulation of a
linear recursion); the two paths agree to rounding (tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy, TabularSoftmax
from tabular_pg.sampled.moments_recursion import (
    ConditionalMoments,
    FirstMoments,
    LinearSpec,
    StepTerms,
    average_over_actions,
    backward_step,
    first_order_step,
)
from tabular_pg.sampled.samplers import rewards_on_support

__all__ = ["RecursionInputs", "first_moment_mean", "dense_moments", "adjoint_weights", "block_moments",
           "tabular_score_rows", "tabular_rows", "linear_moments", "PATHS"]

#: Values of ``path`` in :func:`linear_moments`.
PATHS = ("auto", "block", "dense")
@dataclass(frozen=True)
class RecursionInputs:
    r"""What every step of the recursion reads, built once from the MDP, a :class:`LinearSpec` and an action measure.

    Attributes
    ----------
    spec : LinearSpec
    mu : ndarray (S,)
        The start weights :math:`\mu(s)\,m_0(s)`.
    terminal : ndarray (S,) of bool
    powers : list of ``T`` tuples of three CSR ``(S*A, S)``
        :math:`\tilde P_h`, :math:`\tilde P_h\circ\tilde\rho_h`, :math:`\tilde P_h\circ\tilde\rho_h^2` with
        :math:`\tilde\rho_h = c_h\rho_h` (:math:`c_h` the per-decision importance weight, or 1).
    kernel : ndarray (T, S, A)
        :math:`\tilde k_h(a|s)`, summing to 1 over ``a`` wherever there is mass.

    Notes
    -----
    An action measure :math:`k` that does not sum to 1 (whole-trajectory importance weights)
    weighs a path by :math:`\prod_{h<T}k_h(a_h|s_h)`, steps after a term included, while the
    recursion takes the future of a term to have mass 1.  Its future mass
    :math:`m_h(s) = \sum_a k_h(a|s)\sum_{s'}P(s'|s,a)\,m_{h+1}(s')` (:math:`m_T = 1`, 1 at
    terminal states) turns it into a Markov chain with the same path weights (Doob's
    h-transform): :math:`\tilde\mu = \mu\,m_0`, :math:`\tilde k_h(a|s) = k_h(a|s)\,q_h(s,a)/m_h(s)`,
    :math:`\tilde P_h(s'|s,a) = P(s'|s,a)\,m_{h+1}(s')/q_h(s,a)`, :math:`q_h = P m_{h+1}`.
    A kernel that sums to 1 (within 1e-12) is used as it is.
    """

    spec: LinearSpec
    mu: np.ndarray
    terminal: np.ndarray
    powers: list
    kernel: np.ndarray

    @classmethod
    def build(cls, mdp: FiniteMDP, spec: LinearSpec, kernel: np.ndarray) -> RecursionInputs:
        """``kernel (T, S, A)``: the action measure of the paths (the policy, or an importance-weighted behaviour)."""
        T, S, A = spec.weight.shape
        P = sp.csr_matrix(mdp.P_sa, copy=True)
        P.eliminate_zeros()
        rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
        reward = rewards_on_support(mdp, P, rows)
        terminal = np.zeros(S, dtype=bool)
        terminal[mdp.terminal_states()] = True
        mu, transition, kernel = _h_transform(P, np.broadcast_to(kernel, (T, S, A)), terminal, mdp.mu)
        powers = []
        for h in range(T):
            rho = (spec.reward_scale[h] * reward + spec.next_state_term[h][P.indices]
                   + spec.state_action_term[h].reshape(-1)[rows])
            if spec.importance is not None:
                rho = rho * spec.importance[h].reshape(-1)[rows]
            data = transition(h, rows)
            powers.append(tuple(sp.csr_matrix((data * rho ** k, P.indices, P.indptr), shape=P.shape)
                                for k in range(3)))
        return cls(spec, mu, terminal, powers, kernel)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, S, A)``."""
        return self.spec.weight.shape

    def coefficients(self, h: int) -> dict:
        """Keyword arguments of :func:`first_order_step` / :func:`backward_step` at step ``h`` (rows ``S*A``)."""
        spec = self.spec
        u = spec.weight[h].reshape(-1)
        coeffs = dict(weight=u, signal_weight=spec.signal_weight[h], signal_decay=spec.signal_decay,
                      past_signal_weight=spec.past_signal_weight, carry=1.0)
        if spec.importance is not None:
            c = spec.importance[h].reshape(-1)
            coeffs.update(weight=c * u, signal_decay=c * spec.signal_decay, carry=c)
        return coeffs


def _h_transform(P: sp.csr_matrix, kernel: np.ndarray, terminal: np.ndarray, mu: np.ndarray):
    """``(mu, transition(h, rows) -> P data at step h, kernel)`` of :class:`RecursionInputs`, Notes."""
    sums = kernel.sum(axis=-1)[:, ~terminal]
    if np.all(np.abs(sums - 1) <= 1e-12):
        return mu, lambda h, rows: P.data, kernel
    T, S, A = kernel.shape
    m = np.ones((T + 1, S))
    q = np.empty((T, S * A))
    for h in range(T - 1, -1, -1):
        q[h] = P @ m[h + 1]
        m[h] = np.where(terminal, 1.0, np.einsum("sa,sa->s", kernel[h], q[h].reshape(S, A)))
    normalised = np.divide(kernel * q.reshape(T, S, A), m[:T, :, None], out=np.zeros(kernel.shape),
                           where=m[:T, :, None] > 0)

    def transition(h, rows):
        return np.divide(P.data * m[h + 1][P.indices], q[h][rows], out=np.zeros(P.nnz), where=q[h][rows] > 0)

    return mu * m[0], transition, normalised


def first_moment_mean(inputs: RecursionInputs, score_rows) -> np.ndarray:
    r""":math:`\mathbb E[Y_0]` ``(p,)`` over the paths of ``inputs``; ``score_rows(h) -> (S*A, p)``."""
    T, S, _ = inputs.shape
    moments = None
    for h in range(T - 1, -1, -1):
        psi = score_rows(h)
        moments = FirstMoments.zeros(S, psi.shape[1]) if moments is None else moments
        given_sa, _ = first_order_step(moments, inputs.powers[h], psi, **inputs.coefficients(h))
        moments = average_over_actions(given_sa, inputs.kernel[h], inputs.terminal)
    if moments is None:
        raise ValueError(f"the recursion needs T >= 1 steps; got T = {T}")
    return inputs.mu @ moments.E_Y


def dense_moments(inputs: RecursionInputs, score_rows) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\mathbb E[Y_0]` ``(p,)`` and :math:`\mathbb E[Y_0Y_0^\top]` ``(p, p)`` by :func:`backward_step`.

    The dense path: ``(S*A, p, p)`` arrays at every step, for any score or features
    (``score_rows(h) -> (S*A, p)``).
    """
    T, S, _ = inputs.shape
    moments = None
    for h in range(T - 1, -1, -1):
        psi = score_rows(h)
        moments = ConditionalMoments.zeros(S, psi.shape[1]) if moments is None else moments
        given_sa = backward_step(moments, inputs.powers[h], psi, **inputs.coefficients(h))
        moments = average_over_actions(given_sa, inputs.kernel[h], inputs.terminal)
    if moments is None:
        raise ValueError(f"the recursion needs T >= 1 steps; got T = {T}")
    return inputs.mu @ moments.E_Y, np.einsum("s,sij->ij", inputs.mu, moments.E_YY)


def adjoint_weights(inputs: RecursionInputs) -> np.ndarray:
    r"""Row weights :math:`b^{XX}_h, b^{XY}_h, b^{YY}_h` of the matrix moments, shape ``(T, 3, S*A)`` (module
    docstring)."""
    T, S, A = inputs.shape
    a_XX, a_XY, a_YY = np.zeros(S), np.zeros(S), np.asarray(inputs.mu, dtype=float)
    live = np.where(inputs.terminal[None, :, None], 0.0, inputs.kernel)
    b = np.empty((T, 3, S * A))
    for h in range(T):
        b[h] = (np.stack([a_XX, a_XY, a_YY])[:, :, None] * live[h]).reshape(3, S * A)
        b_XX, b_XY, b_YY = b[h]
        P0, P1, P2 = (P.T for P in inputs.powers[h])
        coeffs = inputs.coefficients(h)
        eta, kappa = coeffs["past_signal_weight"], coeffs["carry"]
        a_XX = P0 @ b_XX + 2 * eta * (P1 @ b_XY) + eta ** 2 * (P2 @ b_YY)
        a_XY = P0 @ (kappa * b_XY) + eta * (P1 @ (kappa * b_YY))
        a_YY = P0 @ (kappa ** 2 * b_YY)
    return b


def tabular_score_rows(pi_h: np.ndarray, first_block: int, d: int) -> np.ndarray:
    r"""Tabular softmax score rows ``(S*A, d)`` of one step: row ``(s,a)`` is :math:`e_a - \pi_h(\cdot|s)` on block
    ``first_block + s``."""
    S, A = pi_h.shape
    rows = np.zeros((S, A, d))
    cols = ((first_block + np.arange(S))[:, None] * A + np.arange(A))[:, None, :]
    rows[np.arange(S)[:, None, None], np.arange(A)[None, :, None], cols] = np.eye(A)[None] - pi_h[:, None, :]
    return rows.reshape(S * A, d)


def _add_local_terms(out: np.ndarray, b: np.ndarray, terms: StepTerms, pi_h: np.ndarray, first_block: int) -> None:
    r"""``out += sum w psi psi^T + G + G^T`` for one step of a tabular softmax (module docstring), in place."""
    S, A = pi_h.shape
    b_XX, b_XY, b_YY = b
    w = (b_XX + 2 * b_XY * terms.E_W + b_YY * terms.E_WW).reshape(S, A)
    v = b_YY[:, None] * terms.E_WL
    if terms.E_Xnext is not None:                                       # else eta = 0: b_XX = b_XY = 0
        v = v + b_XX[:, None] * terms.E_Xnext + b_XY[:, None] * (terms.E_L + terms.E_Xnext_W)
    v = v.reshape(S, A, -1)
    e = np.eye(A)[None] - pi_h[:, None, :]                                 # (S, A, A): psi(s, a) on block s
    blocks = np.einsum("sa,sai,saj->sij", w, e, e)
    G = (v - pi_h[:, :, None] * v.sum(axis=1, keepdims=True)).reshape(S * A, -1)
    rows = slice(first_block * A, (first_block + S) * A)
    out[rows, :] += G
    out[:, rows] += G.T
    idx = first_block + np.arange(S)
    out.reshape(out.shape[0] // A, A, -1, A)[idx, :, idx, :] += blocks


def tabular_rows(policy: TabularSoftmax, theta):
    """``score_rows(h) -> (S*A, d)`` and ``block(h) -> (pi_h (S, A), first block)`` of a (per-step) tabular softmax."""
    S, A, d = policy.n_states, policy.n_actions, policy.n_params
    pi = policy.probs(theta).reshape(-1, S, A)                          # (1, S, A) or (H, S, A)
    if pi.shape[0] == 1:
        stationary = tabular_score_rows(pi[0], 0, d)
        return (lambda h: stationary), (lambda h: (pi[0], 0))
    return (lambda h: tabular_score_rows(pi[h], h * S, d)), (lambda h: (pi[h], h * S))


def block_moments(inputs: RecursionInputs, policy: TabularSoftmax, theta) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\mathbb E[Y_0]` ``(d,)`` and :math:`\mathbb E[Y_0Y_0^\top]` ``(d, d)`` of a tabular softmax by the block
    path."""
    T, S, A = inputs.shape
    score_rows, block = tabular_rows(policy, theta)
    b = adjoint_weights(inputs)
    out = np.zeros((policy.n_params, policy.n_params))
    moments = FirstMoments.zeros(S, policy.n_params)
    scores_to_go = inputs.spec.past_signal_weight != 0                # X enters the output only through eta
    for h in range(T - 1, -1, -1):
        given_sa, terms = first_order_step(moments, inputs.powers[h], score_rows(h), **inputs.coefficients(h),
                                           scores_to_go=scores_to_go)
        _add_local_terms(out, b[h], terms, *block(h))
        moments = average_over_actions(given_sa, inputs.kernel[h], inputs.terminal)
    return inputs.mu @ moments.E_Y, out


def linear_moments(mdp: FiniteMDP, policy: Policy, theta, spec: LinearSpec,
                   features: np.ndarray | None = None, path: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean ``(p,)`` and covariance ``(p, p)`` of :math:`Y_0` for the recursion ``spec``.

    ``features (T, S, A, p)`` take the place of the score :math:`\psi` (default: the
    policy's score, ``p = d``), e.g. :math:`\mathrm{vec}(\psi\psi^\top)` for the Fisher matrix.
    ``path``: ``"block"`` (a tabular softmax with its own score; module docstring), ``"dense"``
    (anything), ``"auto"`` (block where it applies).

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
    >>> for path in ("block", "dense"):
    ...     mean, cov = linear_moments(mdp, pol, th, spec, path=path)
    ...     print(mean.tolist(), np.round(cov, 12).tolist())
    [0.25, -0.25] [[0.0625, -0.0625], [-0.0625, 0.0625]]
    [0.25, -0.25] [[0.0625, -0.0625], [-0.0625, 0.0625]]
    """
    if not (isinstance(path, str) and path in PATHS):
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    blocks = isinstance(policy, TabularSoftmax) and features is None
    if path == "block" and not blocks:
        raise ValueError(f"path='block' needs a TabularSoftmax policy and its own score; got "
                         f"{type(policy).__name__}{' with features' if features is not None else ''}")
    theta = policy.check_theta(theta)
    T, S, A = spec.weight.shape
    kernel = policy.probs(theta) if spec.kernel is None else spec.kernel
    inputs = RecursionInputs.build(mdp, spec, kernel)
    second_inputs = inputs if spec.second_kernel is None else RecursionInputs.build(mdp, spec, spec.second_kernel)
    if isinstance(policy, TabularSoftmax) and blocks and path != "dense":
        score_rows = tabular_rows(policy, theta)[0]
        mean, second = block_moments(second_inputs, policy, theta)
    else:
        score = policy.score(theta) if features is None else features
        score_per_step = np.broadcast_to(score, (T, S, A, score.shape[-1]))

        def score_rows(h):
            return score_per_step[h].reshape(S * A, -1)

        mean, second = dense_moments(second_inputs, score_rows)
    if second_inputs is not inputs:
        mean = first_moment_mean(inputs, score_rows)
    cov = second - np.outer(mean, mean)
    return mean, (cov + cov.T) / 2
