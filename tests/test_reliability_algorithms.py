"""Reliability of the algorithm loop (issue 20): a step that produces non-finite parameters
raises instead of recording NaN policies in silence.  (No-op steps already warn and are
tested in tests/test_npg.py, tests/test_ppo.py and tests/test_returns_cpi.py.)"""
import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms.oracles import ExactOracle
from tabular_pg.algorithms.run import Algorithm, run


class Overflowing(Algorithm):
    """Stands for an update whose estimate overflowed: the second step is NaN."""

    def update(self, policy, theta, oracle, state, rng):
        oracle.query(policy, theta)
        return (theta + 1.0 if state is None else theta * np.nan), "moved"


def test_a_non_finite_step_raises_naming_the_iteration():
    mdp = mdps.chain(3)
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    with pytest.raises(ValueError, match=r"iteration 2 produced non-finite parameters \(12 of 12, e.g. nan\)"):
        run(Overflowing(), mdp, policy, policy.initial(), ExactOracle(mdp), iterations=5)
    history = run(Overflowing(), mdp, policy, policy.initial(), ExactOracle(mdp), iterations=1)
    assert np.isfinite(history.J).all()
