"""The sampled gradient estimators as one read-only registry, :data:`ESTIMATORS`.

Each estimator is one frozen :class:`EstimatorSpec`: its name, the sampled function of
:mod:`tabular_pg.sampled.estimators` and (for the estimators
:math:`\\hat g = \\sum_t \\psi_t W_t`) its step weights :math:`W_t`, the exact moments it maps
to in :mod:`tabular_pg.sampled.moments` (the terms of the backward recursion, or a closed
form), its options with their defaults and validators, whether it needs the MDP, whether a
:class:`~tabular_pg.algorithms.oracles.SampledOracle` may use it for gradients, and the
labelled settings the CLI compares.  :func:`~tabular_pg.sampled.estimators.estimate`,
:func:`~tabular_pg.sampled.moments.estimator_moments`, the SampledOracle and the CLI all
read :data:`ESTIMATORS`: adding an estimator is one entry of :data:`ENTRIES`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from tabular_pg.exact.gradient import check_policy_fits
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled import estimators as E
from tabular_pg.sampled import moments as M
from tabular_pg.sampled.baselines import check_baseline
from tabular_pg.sampled.importance import check_importance, check_truncation
from tabular_pg.sampled.rollout import TRUNCATION_TOL

__all__ = ["ESTIMATORS", "ENTRIES", "EstimatorSpec", "Option", "REQUIRED", "lookup", "check_bool", "estimate",
           "estimator_moments"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of an option that has none: the caller must give it (e.g. GAE's ``lam``).
REQUIRED = _Required()
#: What a sampled function is computed from: :func:`~tabular_pg.sampled.rollout.rollout`
#: trajectories or :func:`~tabular_pg.sampled.rollout.sample_visitation` state-action samples.
DATA = ("trajectories", "visitation")


def check_bool(name: str) -> Callable[[Any], None]:
    """Validator: TypeError unless the option ``name`` is a bool (or ``numpy.bool_``)."""
    def check(value) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool; got {type(value).__name__} {value!r}")
    return check


@dataclass(frozen=True)
class Option:
    """One option of an estimator.

    Attributes
    ----------
    name : str
    default : the value used when the option is not given, or :data:`REQUIRED`.
    check : callable ``value -> None`` raising ValueError/TypeError, or None when only the
        estimator can check the value (it needs the horizon or the number of states).
    sampled : bool
        True: accepted by the sampled function and the exact moments; False: by the moments only.
    reward_units : bool
        A numeric value is in reward units (a constant baseline, given values): scaled with the
        rewards when :meth:`EstimatorSpec.exact_moments` rescales them.
    """

    name: str
    default: Any = REQUIRED
    check: Callable[[Any], None] | None = None
    sampled: bool = True
    reward_units: bool = False


def _never(options: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator of the registry (see the module docstring).

    Attributes
    ----------
    name : str
    sampled : callable ``(data, policy, theta, *, mdp, per_trajectory, **options)``
        The estimate, mean ``(d,)`` or per sample ``(n, d)`` (Fisher: ``(d, d)``/``(n, d, d)``).
    options : tuple of Option
    weights : callable ``(traj, policy, theta, *, mdp, **options) -> (n, T)`` or None
        :math:`W_t` of :math:`\\hat g = \\sum_t\\psi_t W_t` ("Lecture 6: The Policy Gradient" eqs. 21, 26).
    terms : callable ``(mdp, policy, theta, T, **options) -> LinearSpec`` or None
        Exact moments by the recursion of :mod:`tabular_pg.sampled.moments` on ``T`` steps.
    moments : callable ``(mdp, policy, theta, **options) -> (mean, cov)`` or None
        Exact moments in closed form (exactly one of ``terms`` and ``moments`` is given).
    moments_tol : bool
        The closed form truncates infinite horizons like the rollouts and takes ``tol``.
    needs_mdp : callable ``options -> bool``
        Whether, with these (complete) options, the estimate needs the exact MDP.
    data : one of :data:`DATA`
    oracle : bool
        Usable by a SampledOracle for its gradients (needs ``weights``; uses no exact critic).
    cli : tuple of (label, options)
        The settings the CLI's estimator comparison shows, in order.
    reward_degree : int
        The estimate is homogeneous of this degree in the rewards (1: gradients; 0: the Fisher).
    """

    name: str
    sampled: Callable[..., np.ndarray]
    options: tuple = ()
    weights: Callable[..., np.ndarray] | None = None
    terms: Callable[..., M.LinearSpec] | None = None
    moments: Callable[..., tuple] | None = None
    moments_tol: bool = False
    needs_mdp: Callable[[Mapping[str, Any]], bool] = _never
    data: str = "trajectories"
    oracle: bool = False
    cli: tuple = ()
    reward_degree: int = 1

    def __post_init__(self):
        names = [o.name for o in self.options]
        if len(set(names)) != len(names) or not all(isinstance(o, Option) for o in self.options):
            raise ValueError(f"options of {self.name!r} must be Options with distinct names; got {names}")
        if (self.terms is None) == (self.moments is None):
            raise ValueError(f"estimator {self.name!r} needs exactly one of terms and moments")
        if self.oracle and self.weights is None:
            raise ValueError(f"estimator {self.name!r}: oracle=True needs weights")
        if self.data not in DATA:
            raise ValueError(f"data must be one of {DATA}; got {self.data!r}")
        cli = tuple((str(label), MappingProxyType(dict(opts))) for label, opts in self.cli)
        for _label, opts in cli:
            self.bind(opts)
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "cli", cli)

    @property
    def option_names(self) -> tuple[str, ...]:
        """Names of every option (sampled and moments-only), in order."""
        return tuple(o.name for o in self.options)

    def bind(self, options: Mapping[str, Any], exact: bool = False) -> dict:
        """``options`` completed by the defaults and validated: ``{name: value}`` in order.

        ``exact=False``: the options of the sampled function; True: of the exact moments.
        An unknown or missing option is a TypeError naming the valid ones.
        """
        valid = [o for o in self.options if exact or o.sampled]
        names = [o.name for o in valid]
        unknown = [k for k in options if k not in names]
        if unknown:
            only = [k for k in unknown if k in self.option_names]
            note = f" ({only[0]!r} is an option of the exact moments only)" if only else ""
            raise TypeError(f"estimator {self.name!r} got an unexpected keyword argument {unknown[0]!r}{note}; "
                            f"its options are {names}")
        bound = {}
        for o in valid:
            value = options.get(o.name, o.default)
            if value is REQUIRED:
                raise TypeError(f"estimator {self.name!r} needs the option {o.name!r}; got options {sorted(options)}")
            if o.check is not None:
                o.check(value)
            bound[o.name] = value
        return bound

    def estimate(self, data, policy, theta, mdp=None, per_trajectory: bool = False, **options) -> np.ndarray:
        """The sampled estimate from ``data`` (see ``sampled``) with the options completed."""
        return self.sampled(data, policy, theta, mdp=mdp, per_trajectory=per_trajectory, **self.bind(options))

    def exact_moments(self, mdp, policy, theta, tol: float = TRUNCATION_TOL, **options) -> tuple:
        """Exact mean and covariance of one estimate, with the options completed.

        ``tol`` as in :func:`~tabular_pg.sampled.moments.estimator_moments`.  Rewards far from 1
        in magnitude are first scaled by a power of two (exact), and the moments scaled back
        (:func:`~tabular_pg.sampled.moments.reward_exponent`): no overflow inside; a result
        beyond the float64 range is a ValueError.
        """
        bound = self.bind(options, exact=True)
        k = M.reward_exponent(mdp) if self.reward_degree else 0
        T = M.moment_horizon(mdp, tol) if self.terms is not None else None     # from the rewards as given
        if k:
            units = {o.name for o in self.options if o.reward_units}
            bound = {name: M.scale_value(value, -k) if name in units else value for name, value in bound.items()}
            mdp = M.scaled_rewards(mdp, -k)
        if self.terms is not None:
            mean, cov = M.linear_moments(mdp, policy, theta, self.terms(mdp, policy, theta, T, **bound))
        elif self.moments is None:
            raise ValueError(f"estimator {self.name!r} needs exactly one of terms and moments")
        elif self.moments_tol:
            mean, cov = self.moments(mdp, policy, theta, tol=tol, **bound)
        else:
            mean, cov = self.moments(mdp, policy, theta, **bound)
        return M.scaled_moments(mean, cov, k * self.reward_degree) if k else (mean, cov)


def _uses_exact_values(options: Mapping[str, Any]) -> bool:
    return any(isinstance(options.get(k), str) and options[k] in ("value", "optimal", "exact")
               for k in ("baseline", "values"))


def _uses_exact_critic(options: Mapping[str, Any]) -> bool:
    return options["critic"] == "exact" or bool(options["advantage"])


_CRITIC = (Option("critic", "exact", E.check_critic), Option("advantage", False, check_bool("advantage")))

#: Every estimator, in the order of :data:`ESTIMATORS` (and of the CLI's comparison).
ENTRIES = (
    # "Lecture 6: The Policy Gradient" eqs. 21 (total return) and 26 (reward-to-go),
    # baselines of "Lecture 15: Policy Optimization with Trust Regions"
    EstimatorSpec(
        "reinforce", E.reinforce, (Option("reward_to_go", False, check_bool("reward_to_go")),
                                   Option("baseline", None, check_baseline, reward_units=True),
                                   Option("behaviour", None),
                                   Option("importance", "per_decision", check_importance),
                                   Option("truncation", None, check_truncation)),
        weights=E.reinforce_weights, terms=M.reinforce_spec, needs_mdp=_uses_exact_values, oracle=True,
        cli=(("REINFORCE", {}), ("REINFORCE reward-to-go", {"reward_to_go": True}),
             ("rtg - V baseline", {"reward_to_go": True, "baseline": "value"}),
             ("rtg - optimal baseline", {"reward_to_go": True, "baseline": "optimal"}))),
    EstimatorSpec(  # "Policy Gradient (continued)", policy gradient with Q_h (or A_h)
        "qvalue", E.qvalue, _CRITIC, weights=E.qvalue_weights, terms=M.qvalue_spec, needs_mdp=_uses_exact_critic,
        cli=(("exact Q critic", {}), ("exact A critic", {"advantage": True}))),
    # Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage Estimation", eq. 16
    EstimatorSpec(
        "gae", E.gae, (Option("lam", REQUIRED, E.check_lam), Option("values", "exact", reward_units=True)),
        weights=E.gae_weights, terms=M.gae_spec, needs_mdp=_uses_exact_values, oracle=True,
        cli=(("GAE(0.9), exact V", {"lam": 0.9}),)),
    EstimatorSpec(  # "Lecture 15: Policy Optimization with Trust Regions" section 1, (s, a) ~ d
        "visitation", E.visitation, _CRITIC, moments=M.visitation_moments, needs_mdp=_uses_exact_critic,
        data="visitation"),
    EstimatorSpec(  # "Lecture 15: Policy Optimization with Trust Regions" section 3, the sampled Fisher matrix
        "fisher", E.fisher, (Option("samples", "trajectories", M.check_samples, sampled=False),),
        moments=M.fisher_moments, moments_tol=True, reward_degree=0),
)

#: The registry: name -> :class:`EstimatorSpec`, read-only.
ESTIMATORS: Mapping[str, EstimatorSpec] = MappingProxyType({spec.name: spec for spec in ENTRIES})


def lookup(estimator) -> EstimatorSpec:
    """The entry named ``estimator``; ValueError naming the valid names otherwise.

    Examples
    --------
    >>> lookup("gae").option_names
    ('lam', 'values')
    >>> lookup("nope")
    Traceback (most recent call last):
    ...
    ValueError: estimator must be one of ['fisher', 'gae', 'qvalue', 'reinforce', 'visitation']; got 'nope'
    """
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}; got {estimator!r}")
    return ESTIMATORS[estimator]

def estimate(traj, policy: Policy, theta, estimator: str = "reinforce", **options) -> np.ndarray:
    """The estimator named ``estimator`` of :data:`tabular_pg.sampled.registry.ESTIMATORS`, mean ``(d,)`` or ``(n, d)``.

    ``options`` are the estimator's options (defaults from its registry entry) and
    ``mdp``/``per_trajectory``; an unknown option is a TypeError naming the valid ones.

    Examples
    --------
    >>> try:
    ...     estimate(None, None, None, estimator="nope")
    ... except ValueError as e:
    ...     print(e)
    estimator must be one of ['fisher', 'gae', 'qvalue', 'reinforce', 'visitation']; got 'nope'
    """
    return lookup(estimator).estimate(traj, policy, theta, **options)


def estimator_moments(mdp: FiniteMDP, policy: Policy, theta, estimator: str = "reinforce",
                      tol: float = TRUNCATION_TOL, **options) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean ``(d,)`` and covariance ``(d, d)`` of one per-trajectory estimate.

    Parameters
    ----------
    mdp : FiniteMDP
    policy : Policy
    theta : array_like (d,)
    estimator : a name in :data:`tabular_pg.sampled.registry.ESTIMATORS` (``"reinforce"``,
        ``"qvalue"``, ``"gae"``, ``"visitation"``, ``"fisher"``)
    tol : float
        Infinite horizon: truncation of :func:`tabular_pg.sampled.rollout.rollout` (same ``T``).
    **options
        As for the estimator in :mod:`tabular_pg.sampled.estimators` (``reward_to_go``,
        ``baseline``, ``critic``, ``advantage``, ``lam``, ``values``; ``samples`` for
        ``"fisher"``, whose mean is ``(d, d)`` and covariance that of the row-major vec).
        Off-policy ``"reinforce"``: ``behaviour=beta`` (``(S, A)``, the policy that samples the
        trajectories), ``importance="per_decision"`` (reward-to-go) or ``"trajectory"``,
        ``truncation=c`` (ratios :math:`\\min(c, \\pi/\\beta)`: biased; the mean returned is the
        exact mean of the truncated estimator, see :mod:`tabular_pg.sampled.importance`).

    Returns
    -------
    mean, cov
        The mean of a batch of ``n`` is ``mean`` with covariance ``cov / n``.

    Notes
    -----
    Backward dynamic programming over conditional moments (:mod:`tabular_pg.sampled.moments_recursion`;
    for a tabular softmax the block path of :mod:`tabular_pg.sampled.moments_blocks`) for the
    trajectory estimators ("Lecture 6: The Policy Gradient" eqs. 21, 26; "Policy Gradient (continued)";
    Schulman et al. 2016), closed forms for the (s,a)~d estimator
    ("Lecture 15: Policy Optimization with Trust Regions" §1).  Unbiased estimators have
    ``mean`` = :math:`\\nabla J` (of the ``T``-step truncation on an infinite horizon;
    see :func:`tabular_pg.sampled.moments.truncation_bias_bound`).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> P = np.full((2, 2, 2), 0.5); mdp = tpg.FiniteMDP(P, [[1., 0.], [0., 2.]], [1., 0.], 0.9, horizon=3)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([0.3, -0.2, 0.1, 0.5])
    >>> m, C = estimator_moments(mdp, pol, th, "gae", lam=0.3)
    >>> bool(np.allclose(m, tpg.policy_gradient(mdp, pol, th), rtol=1e-12))
    True
    >>> beta = np.full((2, 2), 0.5)                     # off-policy: uniform behaviour, per-decision weights
    >>> m_off, C_off = estimator_moments(mdp, pol, th, "reinforce", reward_to_go=True, behaviour=beta)
    >>> bool(np.allclose(m_off, tpg.policy_gradient(mdp, pol, th), rtol=1e-12))
    True
    """
    spec = lookup(estimator)
    check_policy_fits(mdp, policy)
    theta = policy.check_theta(theta)
    if policy.horizon is not None and policy.horizon != mdp.horizon:
        raise ValueError(f"a per-step policy (horizon {policy.horizon}) needs an MDP with that horizon; "
                         f"got horizon={mdp.horizon}")
    return spec.exact_moments(mdp, policy, theta, tol, **options)
