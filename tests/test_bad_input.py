"""Bad input -> a clear error, nothing silently fixed (issue 8): the catalogue.

Every row of :data:`CATALOGUE` is ``(id, call, exception type, message regex)``: calling
``call()`` must raise exactly that type (``ValueError`` for a bad value, ``TypeError`` for
a wrong type) with a message matching the regex, which names the argument, the expected
property and what was found.  The error must also be raised by the project's own code
(the innermost traceback frame lies in ``tabular_pg/`` or ``mdps/``), not by numpy,
scipy or a Python builtin deep inside a computation.

``tests/test_mdp.py`` already tabulates the basic ``FiniteMDP`` cases (rows that do not
sum to 1, all-zero rows, negative and NaN probabilities, infinite rewards, mu not a
distribution, gamma outside [0, 1], horizon 0 or 2.5); the rows here extend that table
rather than repeat it.

Algorithms and oracles (:data:`ALGORITHMS`) and ``tabular_pg.io`` (:data:`IO`: truncated
JSON, missing fields, ``.npz`` holding object arrays, which are never unpickled) have rows
here too; the CLI's rows (:data:`CLI`) run ``python -m tabular_pg.cli`` and check the
one-line message on stderr and exit code 2.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_pg as tpg
from tabular_pg.exact import rational
from tabular_pg.sampled import estimators as est
from tabular_pg.sampled.moments import fitted_baseline_mean, truncation_bias_bound
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import StateActionSamples, Trajectories, truncation_horizon

# ---------------------------------------------------------------- fixtures (all valid)
P2 = np.zeros((2, 2, 2))
P2[:, 0, 0] = 1.0
P2[:, 1, 1] = 1.0
R2 = np.array([[0.0, 1.0], [2.0, 0.0]])
MU2 = np.array([0.5, 0.5])
MDP = tpg.FiniteMDP(P2, R2, MU2, gamma=0.9)
FINITE = MDP.with_(horizon=3)
POL = tpg.TabularSoftmax(2, 2)
TH = np.array([0.1, -0.2, 0.3, 0.0])
PI = POL.probs(TH)
RNG = np.random.default_rng(0)
TRAJ = tpg.rollout(FINITE, PI, 4, np.random.default_rng(1))
SAMPLES = tpg.sample_visitation(MDP, PI, 4, np.random.default_rng(2))
MDP3 = tpg.FiniteMDP(np.full((3, 2, 3), 1 / 3), np.zeros((3, 2)), np.ones(3) / 3, gamma=0.9)
TRAJ3 = tpg.rollout(MDP3.with_(horizon=3), np.full((3, 2), 0.5), 20, np.random.default_rng(3))


def never_terminating():
    """gamma = 1: action 0 of state 0 ends the episode (state 2 is terminal); action 1 cycles 0 <-> 1."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 2] = 1.0
    P[0, 1, 1] = 1.0
    P[1, :, 0] = 1.0
    P[2, :, 2] = 1.0
    R = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    return tpg.FiniteMDP(P, R, np.array([1.0, 0.0, 0.0]), gamma=1.0)


EPISODIC = never_terminating()


def slow_exit(reward, p):
    """gamma = 1: state 0 pays ``reward`` a step and ends the episode w.p. ``p`` (state 1 terminal): V = reward / p."""
    P = np.array([[[1 - p, p]], [[0.0, 1.0]]])
    return tpg.FiniteMDP(P, [[reward], [0.0]], [1.0, 0.0], gamma=1.0)
LOOP = np.array([[0.0, 1.0], [0.5, 0.5], [0.5, 0.5]])          # never takes the exit action


def sparse_P(rows):
    return sp.csr_matrix(np.array(rows, dtype=float))


def mdp_with(**kw):
    args = dict(P=P2, R=R2, mu=MU2, gamma=0.9)
    args.update(kw)
    return lambda: tpg.FiniteMDP(**args)


def traj_with(**kw):
    args = dict(states=np.zeros((2, 3)), actions=np.zeros((2, 3)), rewards=np.zeros((2, 3)),
                mask=np.ones((2, 3), bool), gamma=0.9)
    args.update(kw)
    return lambda: Trajectories(**args)


# ---------------------------------------------------------------- the catalogue
FINITE_MDP = [
    ("FiniteMDP: P complex", mdp_with(P=P2.astype(complex)), TypeError,
     r"P must be an array of real numbers; got .*complex"),
    ("FiniteMDP: P strings", mdp_with(P=[[["1"]]]), TypeError, r"P must be an array of real numbers; got .*<U1"),
    ("FiniteMDP: P inf", mdp_with(P=np.where(P2 == 1, np.inf, 0.0)), ValueError, r"P must be finite; found inf"),
    ("FiniteMDP: P empty", mdp_with(P=np.zeros((0, 0, 0)), R=np.zeros((0, 0)), mu=np.zeros(0)), ValueError,
     r"P must have shape \(S, A, S\) with S, A >= 1; got shape \(0, 0, 0\)"),
    ("FiniteMDP: sparse P all-zero row", mdp_with(P=sparse_P([[0, 0], [0, 1], [1, 0], [0, 1]])), ValueError,
     r"P rows must sum to 1 .* row \(s=0, a=0\) sums to 0.0"),
    ("FiniteMDP: sparse P row sums 0.9", mdp_with(P=sparse_P([[0.9, 0], [0, 1], [1, 0], [0, 1]])), ValueError,
     r"P rows must sum to 1 .* sums to 0.9"),
    ("FiniteMDP: sparse P negative", mdp_with(P=sparse_P([[1.5, -0.5], [0, 1], [1, 0], [0, 1]])), ValueError,
     r"P must be non-negative; found -0.5"),
    ("FiniteMDP: sparse P NaN", mdp_with(P=sparse_P([[np.nan, 1], [0, 1], [1, 0], [0, 1]])), ValueError,
     r"P must be finite; found nan"),
    ("FiniteMDP: sparse P complex", mdp_with(P=sparse_P([[1, 0], [0, 1], [1, 0], [0, 1]]).astype(complex)),
     TypeError, r"P must hold real numbers; got a sparse matrix of dtype complex"),
    ("FiniteMDP: sparse P n_actions", lambda: tpg.FiniteMDP(sparse_P(P2.reshape(4, 2)), R2, MU2, 0.9, n_actions=3),
     ValueError, r"sparse P must have shape \(S\*A, S\) = \(2\*3, 2\); got \(4, 2\)"),
    ("FiniteMDP: R None", mdp_with(R=None), TypeError, r"R must be an array of real numbers; got NoneType"),
    ("FiniteMDP: R NaN", mdp_with(R=np.full((2, 2), np.nan)), ValueError,
     r"R must be finite; found nan at index \(0, 0\)"),
    ("FiniteMDP: R (S, A, S) -inf", mdp_with(R=np.full((2, 2, 2), -np.inf)), ValueError,
     r"R must be finite; found -inf"),
    ("FiniteMDP: sparse R shape", mdp_with(R=sp.csr_matrix(np.zeros((2, 2)))), ValueError,
     r"sparse R must have shape \(S\*A, S\) = \(4, 2\); got \(2, 2\)"),
    ("FiniteMDP: sparse R NaN", mdp_with(R=sp.csr_matrix(np.full((4, 2), np.nan))), ValueError, r"R must be finite"),
    ("FiniteMDP: R scalar", mdp_with(R=1.0), ValueError, r"R must have shape \(S, A\) = \(2, 2\) .*; got \(\)"),
    ("FiniteMDP: mu strings", mdp_with(mu=["0.5", "0.5"]), TypeError,
     r"mu must be an array of real numbers; got list of dtype <U3"),
    ("FiniteMDP: mu NaN", mdp_with(mu=[np.nan, 1.0]), ValueError, r"mu must be finite; found nan"),
    ("FiniteMDP: mu all zero", mdp_with(mu=[0.0, 0.0]), ValueError, r"mu must sum to 1 .* it sums to 0.0"),
    ("FiniteMDP: mu (1, S)", mdp_with(mu=[[0.5, 0.5]]), ValueError,
     r"mu must have shape \(S,\) = \(2,\); got \(1, 2\)"),
    ("FiniteMDP: gamma NaN", mdp_with(gamma=float("nan")), ValueError, r"gamma must lie in \[0, 1\]; got nan"),
    ("FiniteMDP: gamma inf", mdp_with(gamma=float("inf")), ValueError, r"gamma must lie in \[0, 1\]; got inf"),
    ("FiniteMDP: gamma None", mdp_with(gamma=None), TypeError, r"gamma must be a real number in \[0, 1\]; got None"),
    ("FiniteMDP: gamma array", mdp_with(gamma=np.array([0.5, 0.5])), TypeError, r"gamma must be a real number"),
    ("FiniteMDP: horizon -1", lambda: tpg.FiniteMDP(P2, R2, MU2, 0.9, horizon=-1), ValueError,
     r"horizon must be None or an int >= 1; got -1"),
    ("FiniteMDP: horizon '3'", lambda: tpg.FiniteMDP(P2, R2, MU2, 0.9, horizon="3"), TypeError,
     r"horizon must be None or an int >= 1; got str '3'"),
    ("FiniteMDP: horizon True", lambda: tpg.FiniteMDP(P2, R2, MU2, 0.9, horizon=True), TypeError,
     r"horizon must be None or an int >= 1; got bool True"),
    ("FiniteMDP.with_: unknown field", lambda: MDP.with_(discount=0.5), TypeError, r"unknown fields \['discount'\]"),
]

EVALUATE = [
    ("evaluate: mdp None", lambda: tpg.evaluate(None, PI), TypeError, r"mdp must be a FiniteMDP; got NoneType"),
    ("evaluate: pi shape", lambda: tpg.evaluate(MDP, np.full((3, 2), 0.5)), ValueError,
     r"pi must have shape \(2, 2\); got \(3, 2\)"),
    ("evaluate: pi rows sum to 2", lambda: tpg.evaluate(MDP, np.ones((2, 2))), ValueError,
     r"pi rows must sum to 1 .* row \(0,\) sums to 2.0"),
    ("evaluate: pi negative", lambda: tpg.evaluate(MDP, [[1.5, -0.5], [0.5, 0.5]]), ValueError,
     r"pi must be non-negative; found -0.5 at index \(0, 1\)"),
    ("evaluate: pi NaN", lambda: tpg.evaluate(MDP, [[np.nan, 1.0], [0.5, 0.5]]), ValueError,
     r"pi must be finite; found nan"),
    ("evaluate: pi None", lambda: tpg.evaluate(MDP, None), TypeError,
     r"pi must be an array of real numbers; got NoneType"),
    ("evaluate: pi with None", lambda: tpg.evaluate(MDP, [[1.0, None], [0.5, 0.5]]), TypeError, r"pi .* holding None"),
    ("evaluate: pi complex", lambda: tpg.evaluate(MDP, PI.astype(complex)), TypeError,
     r"pi must be an array of real numbers; got .*complex"),
    ("evaluate: per-step pi, no horizon", lambda: tpg.evaluate(MDP, np.full((3, 2, 2), 0.5)), ValueError,
     r"pi must have shape \(2, 2\); got \(3, 2, 2\)"),
    ("evaluate: per-step pi, wrong H", lambda: tpg.evaluate(FINITE, np.full((4, 2, 2), 0.5)), ValueError,
     r"pi must have shape \(2, 2\) or \(3, 2, 2\); got \(4, 2, 2\)"),
    ("evaluate: unknown solver", lambda: tpg.evaluate(MDP, PI, solver="nope"), ValueError,
     r"solver must be one of 'auto', 'dense', 'splu', 'gmres'; got 'nope'"),
    ("evaluate: gamma = 1, no terminal state", lambda: tpg.evaluate(MDP.with_(gamma=1.0), PI), ValueError,
     r"gamma = 1 with horizon=None needs zero-reward absorbing \(terminal\) states; this MDP has none"),
    ("evaluate: gamma = 1, policy never terminates", lambda: tpg.evaluate(EPISODIC, LOOP), ValueError,
     r"states \[0, 1\] .* never reach a terminal state"),
    ("evaluate: rewards whose values overflow",
     lambda: tpg.evaluate(MDP.with_(R=np.full((2, 2), 1e308)), PI), ValueError,
     r"R is too large for this MDP: values reach max\|r\| \* H = 1e\+308 \* 10"),
    ("evaluate: gamma = 1, episodes too long for the rewards",
     lambda: tpg.evaluate(slow_exit(1e295, 1e-6), [[1.0], [1.0]]),
     ValueError, r"gamma = 1: values or expected visits exceed 1e\+300 \(max \|V\| = 1e\+301"),
    ("transition_matrix: pi shape", lambda: tpg.transition_matrix(MDP, np.ones((3, 3)) / 3), ValueError,
     r"pi must have shape \(2, 2\); got \(3, 3\)"),
    ("transition_matrix: mdp None", lambda: tpg.transition_matrix(None, PI), TypeError, r"mdp must be a FiniteMDP"),
    ("kl_divergence: mdp None", lambda: tpg.kl_divergence(None, PI, PI), TypeError, r"mdp must be a FiniteMDP"),
    ("kl_divergence: pi_new rows", lambda: tpg.kl_divergence(MDP, PI, np.ones((2, 2))), ValueError,
     r"pi_new rows must sum to 1"),
    ("kl_divergence: pi_old shape", lambda: tpg.kl_divergence(MDP, PI[:1], PI), ValueError,
     r"pi_old must have shape \(2, 2\); got \(1, 2\)"),
    ("performance_difference: mdp None", lambda: tpg.performance_difference(None, PI, PI), TypeError,
     r"mdp must be a FiniteMDP"),
    ("performance_difference: pi_new NaN", lambda: tpg.performance_difference(MDP, PI * np.nan, PI), ValueError,
     r"pi_new must be finite"),
]

GRADIENTS = [
    ("policy_gradient: mdp None", lambda: tpg.policy_gradient(None, POL, TH), TypeError,
     r"mdp must be a FiniteMDP; got NoneType"),
    ("policy_gradient: policy None", lambda: tpg.policy_gradient(MDP, None, TH), TypeError,
     r"policy must be a tabular_pg Policy"),
    ("policy_gradient: policy (S, A) mismatch", lambda: tpg.policy_gradient(MDP, tpg.TabularSoftmax(3, 2), np.zeros(6)),
     ValueError, r"policy has \(S, A\) = \(3, 2\) but the MDP has \(2, 2\)"),
    ("policy_gradient: per-step policy, wrong horizon",
     lambda: tpg.policy_gradient(FINITE, tpg.TabularSoftmax(2, 2, horizon=2), np.zeros(8)), ValueError,
     r"per-step policy horizon 2 differs from the MDP horizon 3"),
    ("policy_gradient: theta shape", lambda: tpg.policy_gradient(MDP, POL, np.zeros(3)), ValueError,
     r"theta must have shape \(4,\) .*; got \(3,\)"),
    ("policy_gradient: theta NaN", lambda: tpg.policy_gradient(MDP, POL, [0, np.nan, 0, 0]), ValueError,
     r"theta must be finite; found nan at index 1"),
    ("policy_gradient: theta strings", lambda: tpg.policy_gradient(MDP, POL, "abcd"), TypeError,
     r"theta must be an array of real numbers; got str"),
    ("policy_gradient: evaluation 'x'", lambda: tpg.policy_gradient(MDP, POL, TH, evaluation="x"), TypeError,
     r"evaluation must be None or an Evaluation"),
    ("fisher_information: mdp None", lambda: tpg.fisher_information(None, POL, TH), TypeError,
     r"mdp must be a FiniteMDP"),
    ("natural_gradient: damping -1", lambda: tpg.natural_gradient(MDP, POL, TH, damping=-1), ValueError,
     r"damping must be a finite number >= 0; got -1"),
    ("natural_gradient: damping 'x'", lambda: tpg.natural_gradient(MDP, POL, TH, damping="x"), TypeError,
     r"damping must be a real number; got str 'x'"),
    ("trust_region_step: delta 0", lambda: tpg.trust_region_step(MDP, POL, TH, 0.0), ValueError,
     r"delta must be a finite number > 0; got 0.0"),
    ("trust_region_step: delta None", lambda: tpg.trust_region_step(MDP, POL, TH, None), TypeError,
     r"delta must be a real number; got NoneType"),
    ("trust_region_step: policy None", lambda: tpg.trust_region_step(MDP, None, TH, 0.1), TypeError,
     r"policy must be a tabular_pg Policy"),
    ("optimum: mdp None", lambda: tpg.optimum(None), TypeError, r"mdp must be a FiniteMDP"),
    ("optimum: max_iterations 0", lambda: tpg.optimum(MDP, max_iterations=0), ValueError,
     r"max_iterations must be an int >= 1; got 0"),
    ("optimum: max_iterations 'x'", lambda: tpg.optimum(MDP, max_iterations="x"), TypeError,
     r"max_iterations must be an int >= 1; got str"),
    ("optimum: gamma = 1, terminal unreachable", lambda: tpg.optimum(MDP.with_(gamma=1.0)), ValueError,
     r"needs zero-reward absorbing \(terminal\) states"),
    ("value_iteration: mdp None", lambda: tpg.value_iteration(None), TypeError, r"mdp must be a FiniteMDP"),
    ("value_iteration: tol -1", lambda: tpg.value_iteration(MDP, tol=-1.0), ValueError,
     r"tol must be a finite number > 0; got -1.0"),
    ("value_iteration: tol NaN", lambda: tpg.value_iteration(MDP, tol=float("nan")), ValueError,
     r"tol must be a finite number > 0; got nan"),
    ("value_iteration: gamma = 1", lambda: tpg.value_iteration(EPISODIC), ValueError,
     r"needs an infinite-horizon MDP with gamma < 1"),
]

POLICIES = [
    ("TabularSoftmax: n_states 0", lambda: tpg.TabularSoftmax(0, 2), ValueError,
     r"n_states must be an int >= 1; got 0"),
    ("TabularSoftmax: n_actions '2'", lambda: tpg.TabularSoftmax(2, "2"), TypeError,
     r"n_actions must be an int >= 1; got str '2'"),
    ("TabularSoftmax: horizon 0", lambda: tpg.TabularSoftmax(2, 2, horizon=0), ValueError,
     r"horizon must be an int >= 1; got 0"),
    ("TabularSoftmax.probs: theta 2-d", lambda: POL.probs(np.zeros((2, 2))), ValueError,
     r"theta must have shape \(4,\) .*; got \(2, 2\)"),
    ("TabularSoftmax.probs: theta inf", lambda: POL.probs([np.inf, 0, 0, 0]), ValueError,
     r"theta must be finite; found inf"),
    ("TabularSoftmax.probs: theta complex", lambda: POL.probs(np.zeros(4, complex)), TypeError,
     r"theta must be an array of real numbers"),
    ("TabularSoftmax.vjp: W shape", lambda: POL.vjp(TH, np.ones((3, 3))), ValueError,
     r"W must have shape \(2, 2\) \(or broadcast to it\); got \(3, 3\)"),
    ("TabularSoftmax.vjp: W NaN", lambda: POL.vjp(TH, np.full((2, 2), np.nan)), ValueError,
     r"W must be finite; found nan"),
    ("TabularSoftmax.fisher: w shape", lambda: POL.fisher(TH, np.ones(3)), ValueError, r"w must have shape \(2, 2\)"),
    ("TabularSoftmax.fisher_blocks: w_state shape", lambda: POL.fisher_blocks(TH, np.ones(3)), ValueError,
     r"w_state must have shape \(2,\) .*; got \(3,\)"),
    ("LogLinear: features 2-d", lambda: tpg.LogLinear(np.ones((2, 2))), ValueError,
     r"features must have shape \(S, A, d\) with S, A, d >= 1; got \(2, 2\)"),
    ("LogLinear: features NaN", lambda: tpg.LogLinear(np.full((2, 2, 2), np.nan)), ValueError,
     r"features must be finite"),
    ("LogLinear: features 'abc'", lambda: tpg.LogLinear("abc"), TypeError,
     r"features must be an array of real numbers; got str"),
    ("LogLinear.probs: logits overflow", lambda: tpg.LogLinear(np.full((2, 2, 2), 10.0)).probs([1e308, 1e308]),
     ValueError, r"theta is too large for these features: the logit phi\(s=0, a=0\) . theta overflows to inf"),
    ("LogLinear.fisher: w shape", lambda: tpg.LogLinear(np.ones((2, 2, 3))).fisher(np.zeros(3), np.ones(5)),
     ValueError, r"w must have shape \(2, 2\) .*; got \(5,\)"),
    ("LogLinear.vjp: W shape", lambda: tpg.LogLinear(np.ones((2, 2, 3))).vjp(np.zeros(3), np.ones((3, 3))),
     ValueError, r"W must have shape \(2, 2\)"),
    ("Direct.probs: rows sum to 2", lambda: tpg.Direct(2, 2).probs([1, 1, 0.5, 0.5]), ValueError,
     r"Direct policy rows must sum to 1 \(within 1e-09\); row \(s=0\) sums to 2.0"),
    ("Direct.probs: negative", lambda: tpg.Direct(2, 2).probs([1.5, -0.5, 0.5, 0.5]), ValueError,
     r"Direct policy must be non-negative; found -0.5 at index \(0, 1\)"),
    ("Direct.score: pi(a|s) = 0", lambda: tpg.Direct(2, 2).score([1, 0, 0.5, 0.5]), ValueError,
     r"the score of a Direct policy is undefined where pi\(a\|s\) = 0; pi\(1\|0\) = 0"),
    ("Direct.from_probs: shape", lambda: tpg.Direct(2, 2).from_probs(np.full((3, 2), 0.5)), ValueError,
     r"pi must have shape \(S, A\) = \(2, 2\); got \(3, 2\)"),
    ("Direct.project: shape", lambda: tpg.Direct(2, 2).project(np.ones(3)), ValueError,
     r"x must have shape \(4,\); got \(3,\)"),
    ("Direct.project: NaN", lambda: tpg.Direct(2, 2).project([np.nan, 0, 0, 0]), ValueError,
     r"x must be finite; found nan"),
]

SAMPLING = [
    ("rollout: mdp None", lambda: tpg.rollout(None, PI, 5, RNG), TypeError, r"mdp must be a FiniteMDP"),
    ("rollout: n 0", lambda: tpg.rollout(MDP, PI, 0, RNG), ValueError,
     r"n must be an int >= 1 \(number of trajectories\); got 0"),
    ("rollout: n 5.0", lambda: tpg.rollout(MDP, PI, 5.0, RNG), TypeError, r"n must be an int >= 1 .*; got float 5.0"),
    ("rollout: rng seed int", lambda: tpg.rollout(MDP, PI, 5, 0), TypeError,
     r"rng must be a numpy.random.Generator; got int"),
    ("rollout: pi rows sum to 2", lambda: tpg.rollout(MDP, np.ones((2, 2)), 5, RNG), ValueError,
     r"pi rows must sum to 1"),
    ("rollout: horizon 0", lambda: tpg.rollout(MDP, PI, 5, RNG, horizon=0), ValueError,
     r"horizon must be None or an int >= 1; got 0"),
    ("rollout: horizon differs", lambda: tpg.rollout(FINITE, PI, 5, RNG, horizon=2), ValueError,
     r"horizon=2 differs from the MDP's horizon 3"),
    ("rollout: tol 0", lambda: tpg.rollout(MDP, PI, 5, RNG, tol=0.0), ValueError,
     r"tol must be a finite number > 0; got 0.0"),
    ("rollout: tol 'x'", lambda: tpg.rollout(MDP, PI, 5, RNG, tol="x"), TypeError,
     r"tol must be a real number; got str"),
    ("rollout: gamma = 1, no terminal", lambda: tpg.rollout(MDP.with_(gamma=1.0), PI, 5, RNG), ValueError,
     r"gamma = 1 with horizon=None needs terminal states or a horizon argument"),
    ("rollout: gamma = 1, policy never terminates", lambda: tpg.rollout(EPISODIC, LOOP, 5, RNG), ValueError,
     r"states \[0, 1\] are reachable from mu but never reach a terminal state"),
    ("truncation_horizon: rmax NaN", lambda: truncation_horizon(0.9, float("nan")), ValueError,
     r"rmax must be a finite number >= 0; got nan"),
    ("sample_visitation: mdp None", lambda: tpg.sample_visitation(None, PI, 5, RNG), TypeError,
     r"mdp must be a FiniteMDP"),
    ("sample_visitation: n -1", lambda: tpg.sample_visitation(MDP, PI, -1, RNG), ValueError, r"n must be an int >= 1"),
    ("sample_visitation: finite horizon", lambda: tpg.sample_visitation(FINITE, PI, 5, RNG), ValueError,
     r"needs an infinite horizon with gamma < 1; got gamma=0.9, horizon=3"),
    ("Trajectories: shapes differ", traj_with(actions=np.zeros((2, 2))), ValueError,
     r"Trajectories.actions must have the shape \(n, T\) of states \(2, 3\); got \(2, 2\)"),
    ("Trajectories: state 0.5", traj_with(states=np.full((2, 3), 0.5)), ValueError,
     r"Trajectories.states must hold integer indices; found 0.5 at \(0, 0\)"),
    ("Trajectories: action -1", traj_with(actions=-np.ones((2, 3))), ValueError,
     r"Trajectories.actions must hold indices in \[0, 2\*\*31\); found -1.0 at \(0, 0\)"),
    ("Trajectories: reward NaN", traj_with(rewards=np.full((2, 3), np.nan)), ValueError,
     r"Trajectories.rewards must be finite; found nan"),
    ("Trajectories: mask 2", traj_with(mask=np.full((2, 3), 2)), ValueError, r"Trajectories.mask must hold booleans"),
    ("Trajectories: gamma 1.5", traj_with(gamma=1.5), ValueError, r"gamma must lie in \[0, 1\]; got 1.5"),
    ("StateActionSamples: gamma 1", lambda: StateActionSamples([0], [0], [1.0], 1.0), ValueError,
     r"StateActionSamples.gamma must lie in \[0, 1\); got 1.0"),
    ("StateActionSamples: shapes differ", lambda: StateActionSamples([0, 1], [0], [1.0], 0.5), ValueError,
     r"StateActionSamples.states must have the shape \(n,\) of q_returns \(1,\); got \(2,\)"),
]

ESTIMATORS = [
    ("reinforce: traj None", lambda: est.reinforce(None, POL, TH), TypeError,
     r"traj must be Trajectories or StateActionSamples"),
    ("reinforce: policy None", lambda: est.reinforce(TRAJ, None, TH), TypeError, r"policy must be a tabular_pg Policy"),
    ("reinforce: theta shape", lambda: est.reinforce(TRAJ, POL, np.zeros(5)), ValueError,
     r"theta must have shape \(4,\)"),
    ("reinforce: unknown baseline", lambda: est.reinforce(TRAJ, POL, TH, baseline="nope"), ValueError,
     r"baseline must be None, a number, or one of \('value', 'fitted', 'optimal'\); got 'nope'"),
    ("reinforce: baseline NaN", lambda: est.reinforce(TRAJ, POL, TH, baseline=float("nan")), ValueError,
     r"a constant baseline must be finite; got nan"),
    ("reinforce: baseline -inf", lambda: est.reinforce(TRAJ, POL, TH, baseline=-np.inf), ValueError,
     r"a constant baseline must be finite; got -inf"),
    ("reinforce: baseline 'value' without mdp", lambda: est.reinforce(TRAJ, POL, TH, baseline="value"), ValueError,
     r"mdp \(a FiniteMDP\) is needed for this estimator/baseline; got None"),
    ("reinforce: mdp 'x'", lambda: est.reinforce(TRAJ, POL, TH, mdp="x"), TypeError,
     r"mdp must be None or a FiniteMDP; got str"),
    ("reinforce: mdp of another gamma",
     lambda: est.reinforce(TRAJ, POL, TH, baseline="value", mdp=FINITE.with_(gamma=0.5)),
     ValueError, r"traj was sampled with gamma=0.9, mdp has gamma=0.5"),
    ("reinforce: states beyond the policy", lambda: est.reinforce(TRAJ3, POL, TH), ValueError,
     r"traj.states must be < 2 \(the policy's states\); found 2 at"),
    ("reinforce: per-step policy, wrong T",
     lambda: est.reinforce(TRAJ, tpg.TabularSoftmax(2, 2, horizon=2), np.zeros(8)),
     ValueError,
     r"a per-step policy \(horizon 2\) needs trajectories of exactly that many steps; got Trajectories with T=3"),
    ("qvalue: unknown critic", lambda: est.qvalue(TRAJ, POL, TH, FINITE, critic="x"), ValueError,
     r"critic must be one of \('exact', 'monte_carlo'\); got 'x'"),
    ("qvalue: no mdp", lambda: est.qvalue(TRAJ, POL, TH), ValueError, r"mdp \(a FiniteMDP\) is needed"),
    ("gae: lam 2", lambda: est.gae(TRAJ, POL, TH, 2.0, mdp=FINITE), ValueError, r"lam must lie in \[0, 1\]; got 2.0"),
    ("gae: lam NaN", lambda: est.gae(TRAJ, POL, TH, float("nan"), mdp=FINITE), ValueError,
     r"lam must lie in \[0, 1\]; got nan"),
    ("gae: lam 'x'", lambda: est.gae(TRAJ, POL, TH, "x", mdp=FINITE), TypeError,
     r"lam must be a real number in \[0, 1\]; got str"),
    ("gae: values None", lambda: est.gae(TRAJ, POL, TH, 0.5, values=None), TypeError,
     r"values must be an array of real numbers"),
    ("gae: values NaN", lambda: est.gae(TRAJ, POL, TH, 0.5, values=np.full(2, np.nan)), ValueError,
     r"values must be finite"),
    ("gae: values shape", lambda: est.gae(TRAJ, POL, TH, 0.5, values=np.ones(5)), ValueError,
     r"values must be a number or have shape \(S,\) or \(T, S\) = \(3, 2\); got \(5,\)"),
    ("gae: unknown values name", lambda: est.gae(TRAJ, POL, TH, 0.5, values="x", mdp=FINITE), ValueError,
     r"values must be one of \('fitted', 'exact'\) or an array; got 'x'"),
    ("visitation: trajectories", lambda: est.visitation(TRAJ, POL, TH, FINITE), TypeError,
     r"visitation needs StateActionSamples"),
    ("visitation: unknown critic", lambda: est.visitation(SAMPLES, POL, TH, MDP, critic="x"), ValueError,
     r"critic must be one of"),
    ("estimate: unknown estimator", lambda: estimate(TRAJ, POL, TH, estimator="nope"), ValueError,
     r"estimator must be one of \['fisher', 'gae', 'qvalue', 'reinforce', 'visitation'\]; got 'nope'"),
    ("estimate: estimator [1]", lambda: estimate(TRAJ, POL, TH, estimator=[1]), ValueError,
     r"estimator must be one of .*; got \[1\]"),
    ("estimate: unknown option", lambda: estimate(TRAJ, POL, TH, estimator="reinforce", bogus=1), TypeError,
     r"unexpected keyword argument 'bogus'"),
    ("estimators.natural_gradient: shapes", lambda: est.natural_gradient(np.ones(3), np.eye(2)), ValueError,
     r"g must have shape \(d,\) and F shape \(d, d\); got g \(3,\), F \(2, 2\)"),
    ("estimators.natural_gradient: NaN", lambda: est.natural_gradient(np.ones(2), np.full((2, 2), np.nan)), ValueError,
     r"F must be finite"),
    ("fitted_values: n_states too small", lambda: est.fitted_values(TRAJ3, 2), ValueError,
     r"n_states must exceed every state in traj; got 2, found state 2"),
]

MOMENTS = [
    ("estimator_moments: unknown estimator", lambda: estimator_moments(FINITE, POL, TH, "nope"), ValueError,
     r"estimator must be one of .*; got 'nope'"),
    ("estimator_moments: mdp None", lambda: estimator_moments(None, POL, TH), TypeError, r"mdp must be a FiniteMDP"),
    ("estimator_moments: policy None", lambda: estimator_moments(FINITE, None, TH), TypeError,
     r"policy must be a tabular_pg Policy"),
    ("estimator_moments: policy (S, A) mismatch",
     lambda: estimator_moments(FINITE, tpg.TabularSoftmax(3, 2), np.zeros(6)),
     ValueError, r"policy has \(S, A\) = \(3, 2\) but the MDP has \(2, 2\)"),
    ("estimator_moments: gamma = 1, no horizon",
     lambda: estimator_moments(EPISODIC, tpg.TabularSoftmax(3, 2), np.zeros(6)),
     ValueError, r"moments of gamma = 1 episodic tasks need a horizon"),
    ("estimator_moments: baseline 'fitted'", lambda: estimator_moments(FINITE, POL, TH, baseline="fitted"), ValueError,
     r"baseline='fitted' depends on the whole batch"),
    ("estimator_moments: baseline NaN", lambda: estimator_moments(FINITE, POL, TH, baseline=float("nan")), ValueError,
     r"a constant baseline must be finite; got nan"),
    ("estimator_moments: gae values shape",
     lambda: estimator_moments(FINITE, POL, TH, "gae", lam=0.5, values=np.ones(7)),
     ValueError, r"values must be a number or have shape \(S,\) or \(T, S\) = \(3, 2\); got \(7,\)"),
    ("estimator_moments: gae values inf",
     lambda: estimator_moments(FINITE, POL, TH, "gae", lam=0.5, values=np.full(2, np.inf)),
     ValueError, r"values must be finite; found inf"),
    ("estimator_moments: visitation, finite horizon",
     lambda: estimator_moments(FINITE, POL, TH, "visitation"), ValueError,
     r"the \(s,a\)~d estimator needs an infinite horizon with gamma < 1"),
    ("estimator_moments: fisher samples 'x'",
     lambda: estimator_moments(FINITE, POL, TH, "fisher", samples="x"), ValueError,
     r"samples must be one of \('trajectories', 'visitation'\); got 'x'"),
    ("estimator_moments: tol 0", lambda: estimator_moments(MDP, POL, TH, tol=0.0), ValueError,
     r"tol must be a finite number > 0"),
    ("estimator_moments: unknown option",
     lambda: estimator_moments(FINITE, POL, TH, "gae", lam=0.5, bogus=1), TypeError,
     r"unexpected keyword argument 'bogus'"),
    ("fitted_baseline_mean: n 0", lambda: fitted_baseline_mean(FINITE, POL, TH, 0), ValueError,
     r"n must be an int >= 1; got 0"),
    ("truncation_bias_bound: T -1", lambda: truncation_bias_bound(MDP, POL, TH, -1), ValueError,
     r"T must be an int >= 0 \(number of steps kept\); got -1"),
]

RATIONAL = [
    ("rational.evaluate: mdp None", lambda: rational.evaluate(None, PI), TypeError,
     r"mdp must be a FiniteMDP or a RationalMDP"),
    ("rational.evaluate: pi rows", lambda: rational.evaluate(MDP, np.ones((2, 2))), ValueError,
     r"pi rows must sum to 1"),
    ("rational.evaluate: pi NaN", lambda: rational.evaluate(MDP, [[np.nan, 1], [0.5, 0.5]]), ValueError,
     r"pi: cannot convert the non-finite value nan to a rational"),
    ("rational.evaluate: pi shape", lambda: rational.evaluate(MDP, [0.5, 0.5]), ValueError,
     r"pi must have shape \(2, 2\); got \(2,\)"),
    ("rational.evaluate: policy never terminates", lambda: rational.evaluate(EPISODIC, LOOP), ValueError,
     r"non-terminal states \[0, 1\] never reach a terminal state"),
    ("RationalMDP: gamma 2", lambda: rational.RationalMDP([[[1]]], [[1]], [1], 2), ValueError,
     r"gamma must be one number in \[0, 1\]; got 2"),
    ("RationalMDP: P 'x'", lambda: rational.RationalMDP([[["x"]]], [[1]], [1], "1/2"), ValueError,
     r"P: Invalid literal"),
]

ZOO = [
    ("garnet: S 0", lambda: mdps.garnet(0, 2, 1, 0), ValueError, r"S must be an int >= 1; got 0"),
    ("garnet: seed 'x'", lambda: mdps.garnet(3, 2, 1, "x"), ValueError, r"seed must be a non-negative int.*; got 'x'"),
    ("garnet: gamma 1", lambda: mdps.garnet(3, 2, 1, 0, gamma=1.0), ValueError,
     r"gamma must lie in \[0, 1\) for a Garnet"),
    ("bandit: means 'abc'", lambda: mdps.bandit("abc"), TypeError, r"means must be an array of real numbers; got str"),
    ("bandit: means NaN", lambda: mdps.bandit([np.nan]), ValueError, r"means must be finite"),
    ("gridworld: layout None", lambda: mdps.gridworld(None), ValueError,
     r"layout must be a non-empty list of equal-length strings"),
    ("gridworld: step_reward 'x'", lambda: mdps.gridworld(["S.G"], terminals={"G": 1.0}, step_reward="x"), TypeError,
     r"step_reward must be a finite real number; got str 'x'"),
    ("gridworld: terminal reward NaN", lambda: mdps.gridworld(["S.G"], terminals={"G": np.nan}), ValueError,
     r"terminals\['G'\] must be a finite real number; got nan"),
    ("gridworld: terminal label absent", lambda: mdps.gridworld(["S.G"], terminals={"G": 1.0, "Q": 5.0}), ValueError,
     r"terminals \['Q'\] do not appear in layout"),
    ("gridworld: teleport source absent", lambda: mdps.gridworld(["S.B"], teleports={"A": ("B", 10.0)}), ValueError,
     r"teleports \['A'\] do not appear in layout"),
    ("from_spec: unknown name", lambda: mdps.from_spec("nope:H=3"), ValueError,
     r"unknown MDP name 'nope' in spec 'nope:H=3'; known:"),
    ("from_spec: unknown parameter", lambda: mdps.from_spec("chain:Q=1"), ValueError,
     r"unknown parameter\(s\) \['Q'\] for 'chain'"),
    ("from_spec: not key=value", lambda: mdps.from_spec("chain:H"), ValueError,
     r"spec parameter 'H' in 'chain:H' is not of the form key=value"),
    ("from_spec: empty", lambda: mdps.from_spec(""), ValueError, r"spec must be a non-empty string"),
    ("from_spec: garnet seed -1", lambda: mdps.from_spec("garnet:seed=-1"), ValueError,
     r"seed must be a non-negative int"),
    ("from_spec: unbalanced bracket", lambda: mdps.from_spec("bandit:means=[1,2"), TypeError,
     r"means must be an array of real numbers"),
    ("from_spec: step_reward 'x'", lambda: mdps.from_spec("russell_norvig_grid:step_reward=x"), TypeError,
     r"step_reward must be a finite real number"),
]

_G = mdps.garnet(4, 2, 2, seed=0)
_POL = tpg.TabularSoftmax(4, 2)


def _run(algorithm, iterations=2, oracle=None):
    return lambda: tpg.run(algorithm() if callable(algorithm) else algorithm, _G, _POL, _POL.initial(),
                           oracle or tpg.ExactOracle(_G), iterations=iterations)


ALGORITHMS = [
    ("PolicyGradient: step -1", lambda: tpg.PolicyGradient(step=-1), ValueError,
     r"step must be a finite number > 0; got -1"),
    ("PolicyGradient: step NaN", lambda: tpg.PolicyGradient(step=float("nan")), ValueError,
     r"step must be a finite number > 0"),
    ("NaturalPolicyGradient: step and delta", lambda: tpg.NaturalPolicyGradient(step=0.1, delta=0.1), ValueError,
     r"give at most one of step and delta"),
    ("CPI: unknown alpha", lambda: tpg.ConservativePolicyIteration(alpha="foo"), ValueError,
     r"alpha must be a number in \(0, 1\], 'bound' or 'line_search'; got 'foo'"),
    ("PPO: clip -0.2", lambda: tpg.PPO(clip=-0.2), ValueError, r"clip must be a finite number > 0; got -0.2"),
    ("CEM: elite > population", lambda: tpg.CEM(population=5, elite=10), ValueError,
     r"elite must be <= population = 5"),
    ("run: unknown algorithm 'pg'", lambda: tpg.run("pg", _G, _POL, _POL.initial(), tpg.ExactOracle(_G), iterations=2),
     TypeError, r"algorithm must be a tabular_pg Algorithm; got str"),
    ("run: iterations -1", _run(lambda: tpg.PolicyGradient(step=1.0), iterations=-1), ValueError,
     r"iterations must be an int >= 0; got -1"),
    ("SampledOracle: n 0", lambda: tpg.SampledOracle(_G, n=0, rng=np.random.default_rng(0)), ValueError,
     r"n must be an int >= 1"),
    ("SampledOracle: unknown estimator",
     lambda: tpg.SampledOracle(_G, n=5, rng=np.random.default_rng(0), estimator="nope"),
     ValueError, r"estimator must be one of \('reinforce', 'gae'\); got 'nope'"),
]


def _bad_file(name: str, content) -> str:
    """Write ``content`` (str for JSON, a dict of arrays for .npz) to a fresh temporary file."""
    path = os.path.join(tempfile.mkdtemp(), name)
    if isinstance(content, str):
        with open(path, "w") as f:
            f.write(content)
    else:
        np.savez(path, **content)
    return path


IO = [
    ("io.load: truncated JSON", lambda: tpg.io.load(_bad_file("t.json", '{"states": 1, "rewards": ')), ValueError,
     r"not valid JSON \(truncated or malformed\)"),
    ("io.load: JSON missing field", lambda: tpg.io.load(_bad_file("m.json", json.dumps({"gamma": 0.5}))), ValueError,
     r"field 'states' is missing"),
    ("io.load: npz object array (pickle)",
     lambda: tpg.io.load(_bad_file("o.npz", {"P": np.array([object()], dtype=object), "mu": np.ones(1)})),
     ValueError, r"holds an object array, which is never unpickled"),
    ("io.load: unknown extension", lambda: tpg.io.load("mdp.txt"), ValueError, r"path must end in .json or .npz"),
]

#: (id, call, exception type, message regex); later modules append their rows (see the module docstring).
CATALOGUE = (FINITE_MDP + EVALUATE + GRADIENTS + POLICIES + SAMPLING + ESTIMATORS + MOMENTS + RATIONAL + ZOO
             + ALGORITHMS + IO)

_OWN_CODE = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), pkg) + os.sep
                  for pkg in ("tabular_pg", "mdps"))


@pytest.mark.parametrize("call, exc, match", [row[1:] for row in CATALOGUE], ids=[row[0] for row in CATALOGUE])
def test_bad_input_raises_a_clear_error_at_the_boundary(call, exc, match):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert info.type is exc, f"expected {exc.__name__}, got {info.type.__name__}: {info.value}"
    assert info.match(match)
    origin = traceback.extract_tb(info.tb)[-1].filename
    assert os.path.abspath(origin).startswith(_OWN_CODE), f"raised inside {origin}, not at the boundary"


def test_catalogue_ids_are_unique_and_cover_the_issue_list():
    ids = [row[0] for row in CATALOGUE]
    assert len(ids) == len(set(ids))
    # issue 8's list, as far as it concerns modules on main: each has at least one row
    for needle in ("sums 0.9", "all-zero row", "negative", "NaN", "inf", "shape", "mu", "gamma",
                   "horizon", "never terminates", "rows sum to 2", "n 0", "unknown estimator", "unknown name"):
        assert any(needle in i for i in ids), needle


CLI = [
    ("unknown zoo spec", ["solve", "nope:H=3"], r"unknown MDP name 'nope'"),
    ("unknown algorithm", ["train", "chain:H=3", "--algo", "sgd"], r"invalid choice: 'sgd'"),
    ("missing file", ["solve", "no-such-file.json"], r"no-such-file.json"),
    ("bad zoo parameter", ["solve", "chain:H=0"], r"H must be"),
]


@pytest.mark.parametrize("argv, match", [row[1:] for row in CLI], ids=[row[0] for row in CLI])
def test_cli_turns_bad_input_into_one_line_and_exit_code_2(argv, match):
    out = subprocess.run([sys.executable, "-m", "tabular_pg.cli", *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert re.search(match, lines[0]), lines[0]
