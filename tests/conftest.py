"""Shared builders of small random MDPs for the tests (independent of the zoo)."""
import numpy as np
import pytest
import scipy.sparse as sp

import tabular_pg as tpg


def random_P(rng, S, A, branching=None):
    """Random transitions (S, A, S); with ``branching``, that many successors per (s, a)."""
    P = rng.random((S, A, S))
    if branching is not None:
        mask = np.zeros((S, A, S), dtype=bool)
        for s in range(S):
            for a in range(A):
                mask[s, a, rng.choice(S, size=branching, replace=False)] = True
        P = np.where(mask, P + 0.05, 0.0)
    return P / P.sum(axis=2, keepdims=True)


def random_mdp(rng, S=5, A=3, gamma=0.9, horizon=None, sparse=False, branching=None):
    P = random_P(rng, S, A, branching)
    mu = rng.random(S) + 0.1
    R = rng.normal(size=(S, A))
    if sparse:
        P = sp.csr_matrix(P.reshape(S * A, S))
    return tpg.FiniteMDP(P, R, mu / mu.sum(), gamma=gamma, horizon=horizon)


def episodic_mdp(rng, S=6, A=3):
    """gamma = 1: the last state is a zero-reward absorbing terminal, reached w.p. 1 by any policy."""
    P = random_P(rng, S, A)
    P[:, :, -1] += 0.3                      # every (s, a) may terminate
    P /= P.sum(axis=2, keepdims=True)
    P[-1] = 0.0
    P[-1, :, -1] = 1.0
    R = rng.normal(size=(S, A))
    R[-1] = 0.0
    mu = np.r_[np.ones(S - 1) / (S - 1), 0.0]
    return tpg.FiniteMDP(P, R, mu, gamma=1.0)


def random_policy(rng, S, A, H=None, temperature=1.0):
    shape = (S, A) if H is None else (H, S, A)
    return tpg.policies.softmax(rng.normal(size=shape) * temperature)


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


# Hypothesis profiles: "ci" (the default, >= 200 examples per property) and "thorough"
# (>= 1000); choose with HYPOTHESIS_PROFILE=thorough.
import os  # noqa: E402

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
