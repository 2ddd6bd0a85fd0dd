"""The float engine against the exact rational oracle (sympy): agreement to 1e-10 relative.

The oracle solves the very same (binary-exact) numbers in rational arithmetic, so any
disagreement beyond float rounding is a bug in the float engine (or the oracle).
"""
import numpy as np
import pytest
from conftest import episodic_mdp, random_mdp, random_policy

import mdps
import tabular_pg as tpg
from tabular_pg.exact import rational


def assert_agree(ev, exact):
    ref = exact.to_float()
    for name in ("V", "Q", "A", "d", "d_sa", "visits"):
        got, want = getattr(ev, name), np.asarray(ref[name], dtype=float)
        scale = max(1.0, np.abs(want).max())
        assert np.abs(got - want).max() <= 1e-10 * scale, name
    assert abs(ev.J - float(ref["J"])) <= 1e-10 * max(1.0, abs(float(ref["J"])))


CASES = {
    "discounted dense": lambda rng: random_mdp(rng, S=6, A=3, gamma=0.95),
    "discounted sparse": lambda rng: random_mdp(rng, S=6, A=2, gamma=0.7, sparse=True, branching=2),
    "finite horizon": lambda rng: random_mdp(rng, S=4, A=3, gamma=1.0, horizon=5),
    "episodic": lambda rng: episodic_mdp(rng, S=6, A=3),
    "garnet": lambda rng: mdps.garnet(12, 3, 3, seed=4),
    "sutton-barto grid": lambda rng: mdps.sutton_barto_grid(),
    "agarwal chain": lambda rng: mdps.agarwal_chain(6),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_engine_agrees_with_rational_oracle(rng, case):
    mdp = CASES[case](rng)
    pi = random_policy(rng, mdp.n_states, mdp.n_actions)
    assert_agree(tpg.evaluate(mdp, pi), rational.evaluate(mdp, pi))


def test_per_step_policy_agrees_with_rational_oracle(rng):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9, horizon=4)
    pi = random_policy(rng, 3, 2, H=4)
    assert_agree(tpg.evaluate(mdp, pi), rational.evaluate(mdp, pi))


def test_chain_value_is_three_to_the_minus_H_in_both():
    for H in (3, 8):
        mdp = mdps.chain(H)
        pi = np.full((mdp.n_states, 3), 1 / 3)
        assert tpg.evaluate(mdp, pi).J == pytest.approx(3.0 ** -H, rel=1e-12)
        # the oracle gets J from the float 1/3 read exactly; the float engine matches it
        assert abs(tpg.evaluate(mdp, pi).J - float(rational.evaluate(mdp, pi).J)) <= 1e-12 * 3.0 ** -H


@pytest.mark.parametrize("policy_kind", ["softmax", "loglinear"])
def test_policy_gradient_agrees_with_the_exact_direct_gradient(rng, policy_kind):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    if policy_kind == "softmax":
        policy, theta = tpg.TabularSoftmax(5, 3), rng.normal(size=15)
    else:
        policy, theta = tpg.LogLinear(rng.normal(size=(5, 3, 4))), rng.normal(size=4)
    pi = policy.probs(theta)
    dJ_dpi = np.asarray(rational.policy_gradient_direct(mdp, pi), dtype=float)   # visits * Q, exact
    expected = policy.jacobian(theta).reshape(-1, policy.n_params).T @ dJ_dpi.reshape(-1)
    np.testing.assert_allclose(tpg.policy_gradient(mdp, policy, theta), expected, rtol=1e-10, atol=1e-12)
