"""Published convergence guarantees, evaluated on exact runs: the bound beside the measured gap on every iterate.

:data:`GUARANTEES` maps a name to a :class:`Guarantee`; :func:`check_guarantee` runs the
algorithm of the theorem with the exact oracle on an MDP put in the theorem's setting
(:func:`theorem_setting`), computes the theorem's bound -- with every constant it involves
computed exactly on the run -- and raises :class:`GuaranteeViolated` if any iterate breaks it.

The setting: an infinite horizon with ``gamma < 1`` (a finite-horizon or ``gamma = 1`` MDP is
taken with ``gamma = 0.9`` and no horizon), rewards mapped affinely onto [0, 1] (the theorems
assume :math:`r \\in [0, 1]`; for ``gamma < 1`` the map changes every :math:`J` by the same
affine map, so gaps are divided by :math:`r_{\\max} - r_{\\min}`) and the uniform start
distribution (Mei et al. and Xiao need full support; :math:`\\rho = \\mu` throughout).  Our
``J`` is the papers' :math:`V(\\rho)` (unnormalised, :math:`\\le 1/(1-\\gamma)`), and our NPG and
PMD steps are theirs (see each guarantee).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tabular_pg._checks import freeze_fields, integer, positive_number
from tabular_pg.algorithms.cpi import (
    ConservativePolicyIteration,
    bound_step,
    greedy_policy,
    improvement_bound,
    policy_advantage,
)
from tabular_pg.algorithms.npg import NaturalPolicyGradient
from tabular_pg.algorithms.oracles import ExactOracle
from tabular_pg.algorithms.pg import PolicyGradient
from tabular_pg.algorithms.pmd import PolicyMirrorDescent
from tabular_pg.algorithms.run import run
from tabular_pg.exact.evaluation import evaluate
from tabular_pg.exact.fisher import kl_rows
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.exact.planning import optimum
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Direct, TabularSoftmax

__all__ = ["Guarantee", "GuaranteeCheck", "GuaranteeViolated", "GUARANTEES", "check_guarantee", "theorem_setting",
           "SETTING_GAMMA", "ENTROPY_TAU"]

#: The discount given to finite-horizon and ``gamma = 1`` MDPs to put them in the theorems' setting.
SETTING_GAMMA = 0.9
#: The temperature of the entropy-regularised NPG guarantee (rewards in [0, 1]).
ENTROPY_TAU = 0.1


class GuaranteeViolated(AssertionError):
    """An iterate of an exact run breaks a published bound (the theorem, or our reading of it, is wrong)."""


@dataclass(frozen=True, eq=False)
class GuaranteeCheck:
    """One guarantee on one run: ``measured`` and ``bound`` per iterate ``t = 0..T`` (NaN: no claim at ``t``).

    ``sense`` is ``"<="`` (measured <= bound) or ``">="``; ``constants`` the exactly computed
    constants of the bound; ``violations`` the iterates that break it (beyond ``tol``).
    """

    name: str
    reference: str
    quantity: str
    sense: str
    measured: np.ndarray
    bound: np.ndarray
    constants: dict = field(default_factory=dict)
    tol: float = 1e-10

    def __post_init__(self):
        freeze_fields(self, ("measured", "bound"))

    @property
    def violations(self) -> np.ndarray:
        claimed = ~np.isnan(self.bound)
        excess = self.measured - self.bound if self.sense == "<=" else self.bound - self.measured
        return np.flatnonzero(claimed & (excess > self.tol))

    @property
    def tightness(self) -> float:
        """max over claimed iterates of measured / bound (``"<="``; 1 = tight), or of bound - measured (``">="``)."""
        claimed = ~np.isnan(self.bound)
        if not claimed.any():
            return float("nan")
        if self.sense == "<=":
            return float(np.max(self.measured[claimed] / np.maximum(self.bound[claimed], 1e-300)))
        return float(np.max(self.bound[claimed] - self.measured[claimed]))

    def raise_if_violated(self) -> GuaranteeCheck:
        bad = self.violations
        if bad.size:
            t = int(bad[0])
            raise GuaranteeViolated(f"{self.name} ({self.reference}): {self.quantity} = {self.measured[t]:.6g} "
                                    f"{'>' if self.sense == '<=' else '<'} bound {self.bound[t]:.6g} at iterate {t} "
                                    f"({bad.size} iterates violate it)")
        return self


@dataclass(frozen=True)
class Guarantee:
    """A published bound: its reference, what it bounds, and
    ``evaluate(mdp, T, scale) -> (measured, bound, constants)``."""

    reference: str
    quantity: str
    sense: str
    evaluate: Callable


def theorem_setting(mdp: FiniteMDP) -> FiniteMDP:
    """``mdp`` with ``gamma < 1`` (``SETTING_GAMMA`` if it had a horizon or ``gamma = 1``), no horizon,
    rewards mapped affinely onto [0, 1], and the uniform start distribution."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    gamma = mdp.gamma if mdp.horizon is None and mdp.gamma < 1 else SETTING_GAMMA
    R = mdp.R
    span = float(R.max() - R.min())
    R01 = (R - R.min()) / span if span > 0 else np.zeros_like(R)
    return FiniteMDP(mdp.P, R01, np.full(mdp.n_states, 1.0 / mdp.n_states), gamma=gamma)


def _optimal(mdp: FiniteMDP):
    opt = optimum(mdp)
    return opt, evaluate(mdp, opt.pi).d                                       # d_rho^{pi*} (S,)


def _gaps(mdp, hist, J_star) -> np.ndarray:
    return J_star - hist.J


def _softmax_pg(mdp: FiniteMDP, T: int, scale: float):
    """Mei, Xiao, Szepesvári & Schuurmans (2020), Thm 4: with :math:`\\eta = (1-\\gamma)^3/8`, for :math:`t \\ge 1`

    .. math:: J^* - J(\\pi_t) \\le \\frac{16 S}{c_t^2(1-\\gamma)^6 t}
              \\Big\\|\\frac{d_\\rho^{\\pi^*}}{\\mu}\\Big\\|_\\infty^2\\Big\\|\\frac1\\mu\\Big\\|_\\infty,

    :math:`c_t = \\min_{k\\le t}\\min_s\\pi_k(a^*(s)|s)` (their :math:`c = \\inf_{t\\ge1}` taken over the
    iterates the proof uses up to ``t``, computed on the run).
    """
    g, S = mdp.gamma, mdp.n_states
    opt, d_star = _optimal(mdp)
    pol = TabularSoftmax(S, mdp.n_actions)
    hist = run(PolicyGradient(step=(1 - g) ** 3 / 8, normalize=False), mdp, pol, pol.initial(), ExactOracle(mdp), T)
    a_star = opt.pi.argmax(axis=1)
    c = np.minimum.accumulate(hist.pi[:, np.arange(S), a_star].min(axis=1))
    mismatch, inv_mu = float(np.max(d_star / mdp.mu)), float(np.max(1 / mdp.mu))
    t = np.arange(T + 1, dtype=float)
    with np.errstate(divide="ignore"):
        bound = scale * 16 * S * mismatch ** 2 * inv_mu / (c ** 2 * (1 - g) ** 6 * t)
    bound[0] = np.nan
    return _gaps(mdp, hist, opt.J), bound, {"eta": (1 - g) ** 3 / 8, "c_T": float(c[-1]), "mismatch": mismatch}


def _npg(mdp: FiniteMDP, T: int, scale: float, eta: float = 1.0):
    """Agarwal, Kakade, Lee & Mahajan (2021), Thm 5.3: softmax NPG from :math:`\\theta_0 = 0` with step :math:`\\eta`,

    .. math:: J^* - J(\\pi_T) \\le \\frac{\\log|A|}{\\eta T} + \\frac{1}{(1-\\gamma)^2 T}.

    Their update :math:`\\theta + \\eta F^\\dagger\\nabla V^\\theta(\\mu)` with :math:`V` unnormalised and
    :math:`F` over the normalised :math:`d` is our ``NaturalPolicyGradient(step=eta)`` (both give
    :math:`\\pi_{t+1}\\propto\\pi_t e^{\\eta A_t/(1-\\gamma)}`, their Lemma 5.1): no conversion of
    :math:`\\eta`; their :math:`V^*(\\rho) - V^{(T)}(\\rho)` is our gap with rewards in [0, 1].
    """
    opt, _ = _optimal(mdp)
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
    hist = run(NaturalPolicyGradient(step=eta), mdp, pol, pol.initial(), ExactOracle(mdp), T)
    t = np.arange(T + 1, dtype=float)
    with np.errstate(divide="ignore"):
        bound = scale * (np.log(mdp.n_actions) / (eta * t) + 1 / ((1 - mdp.gamma) ** 2 * t))
    bound[0] = np.nan
    return _gaps(mdp, hist, opt.J), bound, {"eta": eta}


def _entropy_npg(mdp: FiniteMDP, T: int, scale: float, tau: float = ENTROPY_TAU):
    """Cen, Cheng, Chen, Wei & Chi (2021), Thm 1, with :math:`\\eta = (1-\\gamma)/\\tau` (soft policy iteration):

    .. math:: \\|Q^*_\\tau - Q^{(t+1)}_\\tau\\|_\\infty \\le C_1\\gamma(1-\\eta\\tau)^t,\\quad
              C_1 = \\|Q^*_\\tau - Q^{(0)}_\\tau\\|_\\infty
              + 2\\tau\\big(1-\\tfrac{\\eta\\tau}{1-\\gamma}\\big)\\|\\log\\pi^*_\\tau - \\log\\pi^{(0)}\\|_\\infty.
    """
    g = mdp.gamma
    eta = (1 - g) / tau
    soft_opt = optimum(mdp, entropy=tau)
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
    hist = run(NaturalPolicyGradient(step=eta, entropy=tau), mdp, pol, pol.initial(), ExactOracle(mdp), T)
    Qs = [evaluate(mdp, pi, entropy=tau).Q for pi in hist.pi]
    measured = np.array([np.max(np.abs(soft_opt.Q - Q)) for Q in Qs])
    C1 = measured[0] + 2 * tau * (1 - eta * tau / (1 - g)) * np.max(np.abs(np.log(soft_opt.pi) - np.log(hist.pi[0])))
    t = np.arange(T + 1, dtype=float)
    bound = scale * C1 * g * (1 - eta * tau) ** (t - 1)
    bound[0] = np.nan
    return measured, bound, {"tau": tau, "eta": eta, "C1": float(C1)}


def _pmd_increasing(mdp: FiniteMDP, T: int, scale: float, eta0: float = 1.0):
    """Xiao (2022), Thm 10, for KL policy mirror descent with :math:`\\eta_{k+1} = \\eta_k/\\gamma`:

    .. math:: J^* - J(\\pi_k) \\le \\Big(1-\\frac1\\vartheta\\Big)^k
              \\Big(J^* - J(\\pi_0) + \\frac{D_0^*}{(1-\\gamma)\\eta_0(\\vartheta-1)}\\Big),

    :math:`\\vartheta = \\|d_\\rho^{\\pi^*}/\\rho\\|_\\infty/(1-\\gamma) \\ge 1/(1-\\gamma)`
    (so :math:`1/\\gamma \\ge \\vartheta/(\\vartheta-1)`, the theorem's step condition),
    :math:`D_0^* = \\mathbb E_{s\\sim d_\\rho^{\\pi^*}}KL(\\pi^*_s\\|\\pi_{0,s})`.  In our
    normalisation (our PMD step multiplies the unnormalised :math:`Q`): the three-point lemma with
    :math:`p = \\pi^*`, the performance-difference lemma and :math:`d_\\rho^{\\pi_{k+1}} \\ge (1-\\gamma)\\rho`
    give :math:`\\vartheta\\Delta_{k+1} \\le (\\vartheta-1)\\Delta_k + (D_k^*-D_{k+1}^*)/((1-\\gamma)\\eta_k)`,
    whence the
    bound (the :math:`1-\\gamma` is where his and our step differ).
    """
    g = mdp.gamma
    opt, d_star = _optimal(mdp)
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
    hist = run(PolicyMirrorDescent(step=eta0, mirror="kl", step_growth=1 / g), mdp, pol, pol.initial(),
               ExactOracle(mdp), T)
    theta = float(np.max(d_star / mdp.mu)) / (1 - g)
    D0 = float(d_star @ kl_rows(opt.pi, hist.pi[0]))
    gaps = _gaps(mdp, hist, opt.J)
    k = np.arange(T + 1, dtype=float)
    bound = scale * (1 - 1 / theta) ** k * (gaps[0] + D0 / ((1 - g) * eta0 * (theta - 1)))
    bound[0] = np.nan                                   # at k = 0 the bound exceeds the gap by construction
    return gaps, bound, {"eta0": eta0, "growth": 1 / g, "vartheta": theta, "D0": D0}


def _cpi(mdp: FiniteMDP, T: int, scale: float):
    """Kakade & Langford (2002), Thm 4.1, on every step of CPI with ``alpha="bound"``:
    :math:`J(\\pi_{t+1}) - J(\\pi_t) \\ge
    \\frac{\\alpha}{1-\\gamma}(\\mathbb A - \\frac{2\\alpha\\gamma\\varepsilon}{1-\\gamma(1-\\alpha)})`
    (:func:`tabular_pg.algorithms.cpi.improvement_bound`); ``scale < 1`` divides the bound by ``scale``."""
    pol, oracle = Direct(mdp.n_states, mdp.n_actions), ExactOracle(mdp)
    hist = run(ConservativePolicyIteration("bound"), mdp, pol, pol.initial(), oracle, T)
    bound = np.full(T + 1, np.nan)
    for t in range(T):
        answers = oracle.query(pol, hist.theta[t])
        adv, eps = policy_advantage(answers, greedy_policy(answers))
        alpha = bound_step(adv, eps, mdp.gamma)
        bound[t + 1] = improvement_bound(alpha, adv, eps, mdp.gamma) / scale
    improvement = np.concatenate([[np.nan], np.diff(hist.J)])
    return improvement, bound, {}


#: The registry: name -> :class:`Guarantee`.
GUARANTEES: dict[str, Guarantee] = {
    "softmax_pg": Guarantee("Mei, Xiao, Szepesvári & Schuurmans 2020, Thm 4", "J* - J(pi_t)", "<=", _softmax_pg),
    "npg": Guarantee("Agarwal, Kakade, Lee & Mahajan 2021, Thm 5.3", "J* - J(pi_t)", "<=", _npg),
    "entropy_npg": Guarantee("Cen, Cheng, Chen, Wei & Chi 2021, Thm 1", "|Q*_tau - Q_tau(pi_t)|_inf", "<=",
                             _entropy_npg),
    "pmd_increasing": Guarantee("Xiao 2022, Thm 10", "J* - J(pi_t)", "<=", _pmd_increasing),
    "cpi": Guarantee("Kakade & Langford 2002, Thm 4.1", "J(pi_t) - J(pi_t-1)", ">=", _cpi),
}


def check_guarantee(name: str, mdp: FiniteMDP, iterations: int = 50, scale: float = 1.0,
                    raise_on_violation: bool = True) -> GuaranteeCheck:
    """Evaluate the guarantee ``name`` of :data:`GUARANTEES` on an exact run on ``theorem_setting(mdp)``.

    ``scale`` makes the bound stricter by that factor (an upper bound is multiplied by it, CPI's
    lower bound divided by it); ``scale = 1`` is the published bound, and e.g. ``0.1`` a perturbed
    one (its constant divided by 10) that the check must be able to reject.
    Raises :class:`GuaranteeViolated` if an iterate breaks the bound (unless ``raise_on_violation=False``).
    A run that reaches the optimum exactly cannot move any more; the ``ConvergenceWarning``
    its algorithm then gives is silenced here (the bound is checked on every iterate regardless).

    Examples
    --------
    >>> import mdps
    >>> check = check_guarantee("entropy_npg", mdps.garnet(5, 3, 2, seed=0), iterations=5)
    >>> check.violations.size, bool(check.tightness <= 1)
    (0, True)
    """
    if name not in GUARANTEES:
        raise ValueError(f"guarantee must be one of {sorted(GUARANTEES)}; got {name!r}")
    T = integer("iterations", iterations, 1)
    scale = positive_number("scale", scale)
    entry = GUARANTEES[name]
    setting = theorem_setting(mdp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        measured, bound, constants = entry.evaluate(setting, T, scale)
    tol = 1e-10 * max(1.0, 1.0 / (1 - setting.gamma))
    check = GuaranteeCheck(name=name, reference=entry.reference, quantity=entry.quantity, sense=entry.sense,
                           measured=measured, bound=bound, constants=constants, tol=tol)
    return check.raise_if_violated() if raise_on_violation else check
