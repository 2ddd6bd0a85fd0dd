"""The moment recursion behind :mod:`tabular_pg.sampled.moments`: one backward pass over steps.

For :math:`Z_h = \\rho_h + \\zeta Z_{h+1}`, :math:`X_h = \\psi_h + X_{h+1}` and
:math:`Y_h = \\psi_h (u_h + \\beta_h Z_h) + \\eta\\,\\rho_h X_{h+1} + Y_{h+1}` (see
:mod:`tabular_pg.sampled.moments`), the conditional moments given :math:`s_h` are computed from those
given :math:`s_{h+1}` with three sparse products (:math:`P`, :math:`P\\circ\\rho`,
:math:`P\\circ\\rho^2`) and one average over :math:`a \\sim \\pi_h(\\cdot|s)`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.samplers import rewards_on_support

__all__ = ["LinearSpec", "linear_moments"]


@dataclass(frozen=True)
class LinearSpec:
    """Coefficients of the recursion of the module docstring, over ``T`` steps.

    ``u (T, S, A)``; ``beta (T,)``; ``zeta``; ``eta``; the signal
    :math:`\\rho_t(s,a,s') = c_t\\,r(s,a,s') + e_t(s') + f_t(s,a)` with ``c (T,)``,
    ``e (T, S)``, ``f (T, S, A)``.
    """

    u: np.ndarray
    beta: np.ndarray
    zeta: float
    eta: float
    c: np.ndarray
    e: np.ndarray
    f: np.ndarray


@dataclass
class _Moments:
    """Conditional moments given the current state, each with a leading axis of rows."""

    z1: np.ndarray
    z2: np.ndarray
    x1: np.ndarray
    xz: np.ndarray
    y1: np.ndarray
    yz: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray

    @classmethod
    def zeros(cls, S: int, d: int) -> "_Moments":
        v, m = np.zeros((S, d)), np.zeros((S, d, d))
        return cls(np.zeros(S), np.zeros(S), v, v, v, v, m, m, m)

    def map(self, f) -> "_Moments":
        return _Moments(*(f(getattr(self, k)) for k in self.__dataclass_fields__))


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, :, None] * b[:, None, :]


def _backward_step(nx: _Moments, Pk, psi, u, beta, zeta, eta) -> _Moments:
    """Moments given (s, a) from those given s' (see module docstring); rows are s*A+a."""
    def av(k, q):
        return (Pk[k] @ q.reshape(q.shape[0], -1)).reshape(Pk[k].shape[0], *q.shape[1:])

    ones = np.ones(Pk[0].shape[1])
    Ez = av(1, ones) + zeta * av(0, nx.z1)
    Ez2 = av(2, ones) + 2 * zeta * av(1, nx.z1) + zeta ** 2 * av(0, nx.z2)
    Ew, Ewz = u + beta * Ez, u * Ez + beta * Ez2
    Ew2 = u ** 2 + 2 * u * beta * Ez + beta ** 2 * Ez2
    x1 = [av(k, nx.x1) for k in range(3)]
    xz0, xz1, y10, y11, yz0 = av(0, nx.xz), av(1, nx.xz), av(0, nx.y1), av(1, nx.y1), av(0, nx.yz)
    U = u[:, None]
    c = eta * (U * x1[1] + beta * x1[2] + beta * zeta * xz1) + U * y10 + beta * y11 + beta * zeta * yz0
    out = _outer(psi, psi)
    xy1 = av(1, nx.xy)
    m = _Moments(
        z1=Ez, z2=Ez2, x1=psi + x1[0], xz=psi * Ez[:, None] + x1[1] + zeta * xz0,
        y1=psi * Ew[:, None] + eta * x1[1] + y10,
        yz=psi * Ewz[:, None] + eta * (x1[2] + zeta * xz1) + y11 + zeta * yz0,
        xx=out + _outer(psi, x1[0]) + _outer(x1[0], psi) + av(0, nx.xx),
        xy=(out * Ew[:, None, None] + _outer(psi, eta * x1[1] + y10)
            + _outer(U * x1[0] + beta * x1[1] + beta * zeta * xz0, psi) + eta * av(1, nx.xx) + av(0, nx.xy)),
        yy=(out * Ew2[:, None, None] + _outer(psi, c) + _outer(c, psi) + eta ** 2 * av(2, nx.xx)
            + eta * (xy1 + xy1.transpose(0, 2, 1)) + av(0, nx.yy)))
    return m


def _signal_matrices(P: sp.csr_matrix, rows, cols, r_support, spec: LinearSpec, t: int):
    """:math:`P`, :math:`P\\circ\\rho_t`, :math:`P\\circ\\rho_t^2` as CSR ``(S*A, S)``."""
    rho = spec.c[t] * r_support + spec.e[t][cols] + spec.f[t].reshape(-1)[rows]
    shape = P.shape
    return (P, sp.csr_matrix((P.data * rho, P.indices, P.indptr), shape=shape),
            sp.csr_matrix((P.data * rho ** 2, P.indices, P.indptr), shape=shape))


def linear_moments(mdp: FiniteMDP, policy: Policy, theta, spec: LinearSpec,
                   features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean ``(p,)`` and covariance ``(p, p)`` of :math:`Y_0` for the recursion ``spec``.

    ``features (T, S, A, p)`` take the place of the score :math:`\\psi` (default: the
    policy's score, ``p = d``), e.g. :math:`\\mathrm{vec}(\\psi\\psi^\\top)` for the Fisher matrix.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1., 0.]], [1.], gamma=1.0, horizon=1)
    >>> from tabular_pg.sampled.moments import estimator_moments
    >>> pol = tpg.TabularSoftmax(1, 2); th = pol.initial()
    >>> mean, cov = estimator_moments(mdp, pol, th, "reinforce")    # psi * r: psi = (1/2, -1/2) w.p. 1/2
    >>> mean.tolist(), np.round(cov, 12).tolist()
    ([0.25, -0.25], [[0.0625, -0.0625], [-0.0625, 0.0625]])
    """
    theta = policy.check_theta(theta)
    T, S, A = spec.u.shape
    P = sp.csr_matrix(mdp.P_sa, copy=True)
    P.eliminate_zeros()
    rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
    r_support = rewards_on_support(mdp, P, rows)
    pis = np.broadcast_to(policy.probs(theta), (T, S, A))
    psi = policy.score(theta) if features is None else features
    psis = np.broadcast_to(psi, (T, S, A, psi.shape[-1]))
    stopped = mdp.terminal_states()
    m = _Moments.zeros(S, psi.shape[-1])
    for t in range(T - 1, -1, -1):
        Pk = _signal_matrices(P, rows, P.indices, r_support, spec, t)
        m_sa = _backward_step(m, Pk, psis[t].reshape(S * A, -1), spec.u[t].reshape(-1),
                              spec.beta[t], spec.zeta, spec.eta)
        w = pis[t].reshape(-1)
        m = m_sa.map(lambda q: np.einsum("sa,sa...->s...", w.reshape(S, A), q.reshape(S, A, *q.shape[1:])))
        m = m.map(lambda q: _zero_rows(q, stopped))
    mean = mdp.mu @ m.y1
    second = np.einsum("s,sij->ij", mdp.mu, m.yy)
    cov = second - np.outer(mean, mean)
    return mean, (cov + cov.T) / 2


def _zero_rows(q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    q = q.copy()
    q[rows] = 0.0
    return q
