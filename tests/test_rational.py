"""The exact rational oracle: identities with zero residual, and brute-force agreement."""
import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from mdps import chain, garnet, russell_norvig_grid, sutton_barto_grid
from tabular_pg.exact import rational
from tabular_pg.exact.rational import RationalMDP, evaluate, policy_gradient_direct, to_rational
from tabular_pg.policies import TabularSoftmax


def random_distribution(rng, shape, zero_prob=0.3):
    """Exact random distributions over the last axis (Fractions with small denominators)."""
    w = rng.integers(0, 5, size=shape) * (rng.random(shape) > zero_prob)
    w[..., 0] += (w.sum(axis=-1) == 0)
    return np.array([[Fraction(int(x), int(row.sum())) for x in row] for row in w.reshape(-1, shape[-1])],
                    dtype=object).reshape(shape)


def random_exact_mdp(seed, S=4, A=3, gamma="9/10", horizon=None):
    rng = np.random.default_rng(seed)
    R = np.array([[Fraction(int(x), 4) for x in row] for row in rng.integers(-4, 5, size=(S, A))], dtype=object)
    mu = random_distribution(rng, (S,), zero_prob=0.0)
    return RationalMDP(random_distribution(rng, (S, A, S)), R, mu, gamma, horizon)


def policy_matrices(mdp, pi):
    pi = to_rational(pi)
    return (pi[:, :, None] * mdp.P).sum(axis=1), (pi * mdp.r).sum(axis=1), pi


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gamma", ["0", "1/2", "9/10"])
def test_discounted_identities_hold_exactly(seed, gamma):
    mdp = random_exact_mdp(seed, gamma=gamma)
    pi = random_distribution(np.random.default_rng(100 + seed), (4, 3))
    ev = evaluate(mdp, pi)
    P_pi, r_pi, pi = policy_matrices(mdp, pi)
    g = mdp.gamma
    assert all(isinstance(v, sympy.Rational) for v in ev.V)
    assert (ev.V - (r_pi + g * P_pi @ ev.V) == 0).all()                # Bellman equation
    assert (ev.Q - (mdp.r + g * mdp.P @ ev.V) == 0).all()              # Q = r + gamma P V
    assert ((pi * ev.A).sum(axis=1) == 0).all()                        # E_pi[A] = 0
    assert (ev.visits - (mdp.mu + g * P_pi.T @ ev.visits) == 0).all()  # flow equation for d~
    assert sum(ev.d) == 1                                              # d is a distribution
    assert ev.J == (ev.d_sa * mdp.r).sum() / (1 - g) == mdp.mu @ ev.V  # J = sum d r_pi / (1 - gamma)


@pytest.mark.parametrize("seed", range(3))
def test_performance_difference_lemma_holds_exactly(seed):
    """J(pi') - J(pi) = sum_s d~^{pi'}(s) sum_a pi'(a|s) A^pi(s, a)  (Kakade & Langford 2002)."""
    mdp = random_exact_mdp(seed, gamma="2/3")
    rng = np.random.default_rng(seed)
    pi, pi_new = random_distribution(rng, (4, 3)), random_distribution(rng, (4, 3))
    ev, ev_new = evaluate(mdp, pi), evaluate(mdp, pi_new)
    assert ev_new.J - ev.J == (ev_new.visits[:, None] * to_rational(pi_new) * ev.A).sum()


@pytest.mark.parametrize("H", [1, 2, 5, 12])
def test_chain_uniform_policy_J_is_exactly_3_to_minus_H(H):
    mdp = chain(H)
    third = np.full((H + 1, 3), sympy.Rational(1, 3), dtype=object)
    assert evaluate(mdp, third).J == sympy.Rational(1, 3 ** H)
    assert evaluate(chain(H, n_actions=2), np.full((H + 1, 2), 0.5)).J == sympy.Rational(1, 2 ** H)


def brute_force(mdp, pi_steps):
    """J and d_h(s) by summing over every trajectory s_0 a_0 ... s_{H-1} a_{H-1}."""
    H, S, A = pi_steps.shape
    J, d = sympy.Integer(0), np.full((H, S), sympy.Integer(0), dtype=object)
    for states in itertools.product(range(S), repeat=H):
        for actions in itertools.product(range(A), repeat=H):
            p = mdp.mu[states[0]]
            for h in range(H):
                p = p * pi_steps[h, states[h], actions[h]]
                if h + 1 < H:
                    p = p * mdp.P[states[h], actions[h], states[h + 1]]
            if p == 0:
                continue
            J += p * sum(mdp.gamma ** h * mdp.r[states[h], actions[h]] for h in range(H))
            for h in range(H):
                d[h, states[h]] += p
    return J, d


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("gamma", ["1", "3/4"])
def test_finite_horizon_matches_enumeration_of_all_trajectories(per_step, gamma):
    H, S, A = 3, 3, 2
    mdp = random_exact_mdp(7, S=S, A=A, gamma=gamma, horizon=H)
    rng = np.random.default_rng(8)
    pi = random_distribution(rng, (H, S, A) if per_step else (S, A))
    ev = evaluate(mdp, pi)
    J, d = brute_force(mdp, to_rational(np.broadcast_to(pi, (H, S, A))))
    assert ev.J == J and (ev.d == d).all()
    assert ev.V.shape == (H, S) and ev.Q.shape == (H, S, A) and ev.d_sa.shape == (H, S, A)
    g = mdp.gamma
    assert (ev.visits == np.array([[g ** h * x for x in row] for h, row in enumerate(d)], dtype=object)).all()
    pi_steps = to_rational(np.broadcast_to(pi, (H, S, A)))
    assert ((pi_steps * ev.A).sum(axis=2) == 0).all()


def test_undiscounted_episodic_identities_on_the_russell_norvig_grid():
    mdp = RationalMDP.from_mdp(russell_norvig_grid(), max_denominator=100)   # 0.8, 0.1 -> 4/5, 1/10
    assert mdp.P[7, 0, 4] == sympy.Rational(4, 5) and mdp.gamma == 1
    pi = np.full((11, 4), sympy.Rational(1, 4), dtype=object)
    ev = evaluate(mdp, pi)
    P_pi, r_pi, _ = policy_matrices(mdp, pi)
    T = mdp.terminal_states()
    assert T.tolist() == [3, 6] and (ev.V[T] == 0).all() and (ev.visits[T] == 0).all()
    assert (ev.V - (r_pi + P_pi @ ev.V) == 0).all()
    assert sum(ev.d) == 1 and ev.J == mdp.mu @ ev.V


def test_undiscounted_error_names_the_states_that_never_terminate():
    mdp = RationalMDP.from_mdp(russell_norvig_grid(), max_denominator=100)
    left = np.zeros((11, 4))
    left[:, 3] = 1  # always left: only (2, 3) can slip up into the -1
    with pytest.raises(ValueError, match=r"states \[0, 1, 2, 4, 5, 7, 8, 9\] never reach"):
        evaluate(mdp, left)
    with pytest.raises(ValueError, match="terminal"):
        evaluate(RationalMDP([[[1]]], [[1]], [1], gamma=1), [[1]])


def test_floats_are_read_exactly_and_agree_with_a_float_solve():
    mdp = sutton_barto_grid()
    exact = RationalMDP.from_mdp(mdp)
    assert exact.gamma == sympy.Rational(0.9) != sympy.Rational(9, 10)
    ev = evaluate(mdp, np.full((25, 4), 0.25))
    V_float = np.linalg.solve(np.eye(25) - 0.9 * mdp.P.mean(axis=1), mdp.R.mean(axis=1))
    floats = ev.to_float()
    assert np.allclose(floats["V"], V_float, rtol=1e-12, atol=1e-12) and isinstance(floats["J"], float)
    assert set(floats) == {"V", "Q", "A", "d", "d_sa", "visits", "J"}


def test_snapping_makes_random_float_mdps_exact_distributions():
    mdp = garnet(8, 3, 4, seed=2)
    pi = np.random.default_rng(2).dirichlet(np.ones(3), size=8)
    assert sum(evaluate(mdp, pi).d) != 1                      # the float rows are not exactly stochastic
    ev = evaluate(mdp, pi, max_denominator=1000)
    assert sum(ev.d) == 1
    assert np.allclose(ev.to_float()["V"], evaluate(mdp, pi).to_float()["V"], rtol=1e-2)


def test_chain_with_uniform_reset_has_the_hand_computed_value():
    """H = 2: from s_0 J = 1/9, from s_1 J = 1/3 (advance at once); mu uniform gives 2/9."""
    third = np.full((3, 3), sympy.Rational(1, 3), dtype=object)
    ev = evaluate(chain(2, reset="uniform"), third)
    assert ev.J == sympy.Rational(2, 9) and ev.V[0, :2].tolist() == [sympy.Rational(1, 9), sympy.Rational(1, 3)]


def test_sparse_float_mdp_is_accepted():
    mdp = garnet(6, 2, 3, seed=0, sparse=True)
    dense = garnet(6, 2, 3, seed=0, sparse=False)
    pi = np.full((6, 2), 0.5)
    assert evaluate(mdp, pi).J == evaluate(dense, pi).J


def test_direct_gradient_is_the_exact_derivative():
    """d/de J(pi + e Delta) at e = 0 equals sum g Delta, with J(e) a symbolic rational function."""
    mdp = random_exact_mdp(3, S=3, A=2, gamma="3/5")
    rng = np.random.default_rng(3)
    pi = to_rational(random_distribution(rng, (3, 2), zero_prob=0.0))
    Delta = to_rational(rng.integers(-3, 4, size=(3, 2)))
    e = sympy.Symbol("e")
    pi_e = sympy.Matrix(3, 2, lambda s, a: pi[s, a] + e * Delta[s, a])
    P_e = sympy.Matrix(3, 3, lambda s, t: sum(pi_e[s, a] * mdp.P[s, a, t] for a in range(2)))
    r_e = sympy.Matrix(3, 1, lambda s, _: sum(pi_e[s, a] * mdp.r[s, a] for a in range(2)))
    J_e = (sympy.Matrix(1, 3, list(mdp.mu)) * (sympy.eye(3) - mdp.gamma * P_e).LUsolve(r_e))[0]
    derivative = sympy.diff(J_e, e).subs(e, 0)
    assert sympy.simplify(derivative - (policy_gradient_direct(mdp, pi) * Delta).sum()) == 0


@pytest.mark.parametrize("per_step", [False, True])
def test_direct_gradient_chains_with_the_softmax_vjp_on_the_chain(per_step):
    H = 3
    mdp = chain(H, gamma=0.5)
    policy = TabularSoftmax(H + 1, 3, horizon=H if per_step else None)
    theta = np.random.default_rng(0).normal(size=policy.n_params)
    g_direct = policy_gradient_direct(mdp, policy.probs(theta)).astype(float)
    g = policy.vjp(theta, g_direct)
    J = lambda t: float(evaluate(mdp, policy.probs(t)).J)
    eps = 1e-6
    fd = np.array([(J(theta + eps * e) - J(theta - eps * e)) / (2 * eps) for e in np.eye(policy.n_params)])
    assert np.allclose(g, fd, atol=1e-8)


def test_bad_inputs_name_the_argument():
    mdp = random_exact_mdp(0)
    with pytest.raises(ValueError, match="pi"):
        evaluate(mdp, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="pi"):
        evaluate(mdp, np.full((4, 3), 0.5))
    with pytest.raises(TypeError, match="mdp"):
        evaluate("chain", np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="P"):
        RationalMDP([[["1/2", "1/3"]]], [[0]], [1], gamma="1/2")
    with pytest.raises(ValueError, match="gamma"):
        RationalMDP([[[1]]], [[0]], [1], gamma="3/2")
    with pytest.raises(TypeError, match="pi"):
        evaluate(mdp, np.full((4, 3), object()))


def test_module_exports():
    assert set(rational.__all__) >= {"evaluate", "policy_gradient_direct", "RationalMDP", "RationalEvaluation"}


@st.composite
def exact_mdps_and_policies(draw):
    """Small MDPs and policies with exact rational entries (rows of small integer weights)."""
    S, A = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    gamma = draw(st.sampled_from(["0", "1/3", "1/2", "99/100"]))
    rng = np.random.default_rng(seed)
    return random_exact_mdp(seed, S=S, A=A, gamma=gamma), random_distribution(rng, (S, A))


@settings(max_examples=25, deadline=None)
@given(exact_mdps_and_policies())
def test_invariants_hold_exactly_on_generated_mdps(case):
    mdp, pi = case
    ev = evaluate(mdp, pi)
    P_pi, r_pi, pi = policy_matrices(mdp, pi)
    assert (ev.V - (r_pi + mdp.gamma * P_pi @ ev.V) == 0).all()
    assert ((pi * ev.A).sum(axis=1) == 0).all() and sum(ev.d) == 1
    assert ev.J == (ev.d_sa * mdp.r).sum() / (1 - mdp.gamma)
