"""The loop shared by every algorithm: ``run(...) -> History``.

An algorithm is a small update rule ``theta_{t+1} = update(theta_t, oracle)``; ``run``
calls it ``iterations`` times, records the *exact* ``J`` of every iterate on the MDP it is
given (whatever oracle the algorithm used), the parameters and policies, the samples
the oracle consumed and the wall time, and returns a frozen :class:`History`.
"""
from __future__ import annotations

import sys
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from tabular_pg._checks import freeze_fields, integer
from tabular_pg.algorithms.oracles import ExactOracle
from tabular_pg.exact.evaluation import evaluate
from tabular_pg.exact.gradient import check_policy_fits
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.progress import progress as progress_bar

__all__ = ["Algorithm", "History", "run"]


class Algorithm(ABC):
    """An update rule.  Subclasses define :meth:`update`; :meth:`start` gives their state.

    ``needs_rng`` is True for rules that draw random numbers themselves (minibatches,
    search distributions); ``run`` then requires an ``rng``.
    """

    @property
    def needs_rng(self) -> bool:
        """True if :meth:`update` draws random numbers itself (``run`` then requires an ``rng``)."""
        return False

    def start(self, policy: Policy, theta: np.ndarray):
        """The algorithm's own state before the first update (None for memoryless rules)."""
        return None

    @abstractmethod
    def update(self, policy: Policy, theta: np.ndarray, oracle, state, rng):
        """One iteration: return ``(theta_next, state_next)``."""


def _check_finite_step(algorithm, theta: np.ndarray, t: int) -> None:
    """ValueError if an update produced non-finite parameters (an overflowing estimate):
    continuing would record NaN policies without a word."""
    bad = ~np.isfinite(np.asarray(theta, dtype=float))
    if bad.any():
        raise ValueError(f"{algorithm!r}: iteration {t} produced non-finite parameters ({int(bad.sum())} of "
                         f"{bad.size}, e.g. {np.asarray(theta).reshape(-1)[bad.reshape(-1)][0]}); rescale the rewards "
                         "or lower the step")


@dataclass(frozen=True, eq=False)
class History:
    """The record of one run; arrays read-only, index ``t = 0..T`` (``t = 0`` is ``theta0``).

    Attributes
    ----------
    algorithm : str
        ``repr`` of the algorithm (its parameters).
    J : ndarray (T+1,)
        Exact :math:`J(\\pi_{\\theta_t})` on the evaluation MDP.
    theta : ndarray (T+1, d)
    pi : ndarray (T+1, S, A), or (T+1, H, S, A) for a per-step policy
    trajectories, steps : ndarray of int (T+1,)
        Samples consumed by the oracle before iterate ``t`` was reached (cumulative).
    wall_time : ndarray (T+1,)
        Seconds since the start of the run (cumulative; never part of reproducibility).
    """

    algorithm: str
    J: np.ndarray
    theta: np.ndarray
    pi: np.ndarray
    trajectories: np.ndarray
    steps: np.ndarray
    wall_time: np.ndarray

    def __post_init__(self):
        freeze_fields(self, ("J", "theta", "pi", "trajectories", "steps", "wall_time"))

    @property
    def iterations(self) -> int:
        return self.J.shape[0] - 1

    def to_frame(self):
        """The per-iterate record as a :class:`pandas.DataFrame` (needs pandas: the ``frame`` extra).

        Returns
        -------
        pandas.DataFrame
            One row per iterate ``t = 0..T`` (the index, named ``t``), columns ``J``,
            ``trajectories``, ``steps``, ``wall_time``; ``algorithm`` is in ``frame.attrs``.
            ``theta`` and ``pi`` stay arrays on the History.

        Examples
        --------
        >>> import numpy as np
        >>> h = History("PG()", np.array([0.0, 0.5]), np.zeros((2, 1)), np.ones((2, 1, 1)), np.array([0, 10]),
        ...             np.array([0, 40]), np.array([0.0, 0.1]))
        >>> h.to_frame()[["J", "trajectories"]].to_dict("list")
        {'J': [0.0, 0.5], 'trajectories': [0, 10]}
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("History.to_frame needs pandas: pip install 'tabular-pg[frame]'") from None
        frame = pd.DataFrame({"J": self.J, "trajectories": self.trajectories, "steps": self.steps,
                              "wall_time": self.wall_time}, index=pd.RangeIndex(self.J.shape[0], name="t"))
        frame.attrs["algorithm"] = self.algorithm
        return frame

    def first_reaching(self, level: float) -> int | None:
        """The first ``t`` with ``J[t] >= level``, or None if never reached."""
        hit = np.flatnonzero(self.J >= level)
        return int(hit[0]) if hit.size else None

    def trajectories_to(self, level: float) -> int | None:
        """Trajectories consumed until ``J >= level`` was first reached, or None."""
        t = self.first_reaching(level)
        return None if t is None else int(self.trajectories[t])

    def same_run(self, other: History) -> bool:
        """True when everything but the wall time is bit-identical."""
        return self.algorithm == other.algorithm and all(
            np.array_equal(getattr(self, k), getattr(other, k))
            for k in ("J", "theta", "pi", "trajectories", "steps"))


def _check_run(algorithm, mdp, policy, oracle, iterations, rng) -> int:
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm must be a tabular_pg Algorithm; got {type(algorithm).__name__}")
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    check_policy_fits(mdp, policy)
    check_policy_fits(oracle.mdp, policy)
    integer("iterations", iterations, 0)
    if algorithm.needs_rng and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator for {algorithm!r}; got {rng!r}")
    return int(iterations)


def _exact_J(mdp: FiniteMDP, policy: Policy, theta: np.ndarray, oracle) -> float:
    """Exact J of the iterate; an exact oracle on the same MDP evaluates it once for both."""
    if isinstance(oracle, ExactOracle) and oracle.mdp is mdp:
        return oracle.evaluation(policy, theta).J
    return evaluate(mdp, policy.probs(theta)).J


class RepeatedWarnings:
    """Each distinct warning of a run's updates is shown once; a repeat is counted, not shown.

    An update that cannot move warns (``ConvergenceWarning``), and after convergence it may
    do so at every iteration with the same text: :meth:`close` then issues one line saying
    how many more iterations gave it and which.  Other warnings pass through unchanged.
    """

    def __init__(self) -> None:
        self.repeats: dict[str, list[int]] = {}

    def record(self, caught: list, iteration: int) -> None:
        for w in caught:
            key = f"{w.category.__name__}: {w.message}"
            if issubclass(w.category, ConvergenceWarning) and key in self.repeats:
                self.repeats[key].append(iteration)
                continue
            if issubclass(w.category, ConvergenceWarning):
                self.repeats[key] = []
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def close(self) -> None:
        for key, its in self.repeats.items():
            if its:
                warnings.warn(f"the warning above ({key[:80]}...) repeated at {len(its)} more iteration"
                              f"{'s' if len(its) > 1 else ''} ({its[0]}..{its[-1]})", ConvergenceWarning, stacklevel=3)


def run(algorithm: Algorithm, mdp: FiniteMDP, policy: Policy, theta0, oracle, iterations: int, *,
        rng: np.random.Generator | None = None, target: float | None = None, progress=None) -> History:
    """Run ``algorithm`` from ``theta0`` for ``iterations`` updates against ``oracle``.

    Parameters
    ----------
    algorithm : Algorithm
    mdp : FiniteMDP
        Where the exact ``J`` of each iterate is measured.  Usually ``oracle.mdp``; it may
        differ in its start distribution ("Policy Gradient (continued)"'s reset fix: train from a uniform
        reset, report the start-state objective).
    policy : Policy
    theta0 : array_like (d,)
    oracle : ExactOracle or SampledOracle
    iterations : int >= 0
    rng : numpy.random.Generator, optional
        Randomness of the algorithm itself (PPO minibatches, CEM); the sampled oracle has
        its own.  Required by algorithms with ``needs_rng``.
    target : float, optional
        Stop as soon as the exact ``J >= target``; a ``ConvergenceWarning`` says when the
        budget ran out first.
    progress : bool, optional
        Show a progress bar (:func:`tabular_pg.progress.progress`: tqdm when installed);
        default: only when stderr is a terminal.

    Returns
    -------
    History

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> from tabular_pg.algorithms import PolicyGradient
    >>> mdp = mdps.garnet(5, 2, 2, seed=0); pol = tpg.TabularSoftmax(5, 2)
    >>> hist = run(PolicyGradient(step=1.0), mdp, pol, pol.initial(), tpg.oracles.ExactOracle(mdp), 50)
    >>> bool(np.all(np.diff(hist.J) > -1e-12)), hist.iterations, int(hist.trajectories[-1])
    (True, 50, 0)
    """
    iterations = _check_run(algorithm, mdp, policy, oracle, iterations, rng)
    theta = policy.check_theta(theta0).copy()
    state = algorithm.start(policy, theta)
    start_cost, t0 = oracle.cost, time.perf_counter()
    rows = [(theta, 0, 0, 0.0)]
    bar = progress_bar(total=iterations, desc=type(algorithm).__name__,
                       enabled=sys.stderr.isatty() if progress is None else bool(progress))
    J = [_exact_J(mdp, policy, theta, oracle)]
    shown = RepeatedWarnings()
    for t in range(1, iterations + 1):
        if target is not None and J[-1] >= target:
            break
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            theta, state = algorithm.update(policy, theta, oracle, state, rng)
        shown.record(caught, t)
        _check_finite_step(algorithm, theta, len(J))
        used = oracle.cost
        rows.append((theta, used.trajectories - start_cost.trajectories, used.steps - start_cost.steps,
                     time.perf_counter() - t0))
        J.append(_exact_J(mdp, policy, theta, oracle))
        bar.update(1)
        bar.set_postfix(J=f"{J[-1]:.4g}")
    bar.close()
    shown.close()
    if target is not None and J[-1] < target:
        warnings.warn(f"{algorithm!r} did not reach J >= {target:.6g} in {iterations} iterations "
                      f"(J = {J[-1]:.6g})", ConvergenceWarning, stacklevel=2)
    thetas, trajs, steps, times = zip(*rows)
    return History(algorithm=repr(algorithm), J=np.array(J), theta=np.array(thetas),
                   pi=np.array([policy.probs(t) for t in thetas]), trajectories=np.array(trajs),
                   steps=np.array(steps), wall_time=np.array(times))
