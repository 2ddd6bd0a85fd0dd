"""Algorithms with the exact oracle: identities, monotonicity, convergence to the optimum.

Tolerances: identities between two float64 computations of the same quantity hold to
~1e-12 (1e-10 asserted); ``random_mdp`` starts everywhere with positive probability, so d(s) > 0 for every state;
convergence is asserted as a gap to the exact optimum
``optimum(mdp).J`` below 1e-3 of the initial gap ``J* - J(theta0)``, with iteration
budgets measured for these MDPs (each run stops at that target).
"""
import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.algorithms import (
    CEM,
    PPO,
    ConservativePolicyIteration,
    NaturalPolicyGradient,
    PolicyGradient,
    bound_step,
    clipped_surrogate,
    clipped_surrogate_gradient,
    greedy_policy,
    improvement_bound,
    policy_advantage,
    run,
)
from tabular_pg.algorithms.oracles import ExactOracle


@pytest.mark.parametrize("horizon", [None, 4])
def test_npg_with_tabular_softmax_is_soft_policy_iteration(rng, horizon):
    mdp = random_mdp(rng, S=6, A=3, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(6, 3, horizon=horizon)
    theta = rng.normal(size=policy.n_params)
    eta = 0.7
    new, _ = NaturalPolicyGradient(step=eta).update(policy, theta, ExactOracle(mdp), None, None)
    ev = tpg.evaluate(mdp, policy.probs(theta))
    if horizon is None:
        scaled_A = ev.A / (1 - mdp.gamma)                 # pi' ∝ pi exp(eta A / (1 - gamma))
    else:
        scaled_A = mdp.gamma ** np.arange(horizon)[:, None, None] * ev.A   # per step: gamma^h A_h
    target = policy.probs(theta) * np.exp(eta * scaled_A)
    target /= target.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(policy.probs(new), target, rtol=0, atol=1e-10)


def test_trust_region_npg_realises_kl_close_to_delta(rng):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.8)
    policy = tpg.TabularSoftmax(5, 3)
    theta = rng.normal(size=15)
    for delta in (1e-3, 1e-5):
        new, _ = NaturalPolicyGradient(delta=delta).update(policy, theta, ExactOracle(mdp), None, None)
        kl = tpg.kl_divergence(mdp, policy.probs(theta), policy.probs(new))
        assert abs(kl / delta - 1) < 10 * np.sqrt(delta)     # KL = delta + O(delta^{3/2})


POLICIES = {
    "softmax": lambda rng, S, A, H: tpg.TabularSoftmax(S, A),
    "per_step": lambda rng, S, A, H: tpg.TabularSoftmax(S, A, horizon=H),
    "loglinear": lambda rng, S, A, H: tpg.LogLinear(rng.normal(size=(S, A, 4))),
}


@pytest.mark.parametrize("kind, horizon", [("softmax", None), ("softmax", 3), ("loglinear", None),
                                           ("loglinear", 3), ("per_step", 3), ("per_step", 5)])
def test_ppo_surrogate_gradient_at_current_policy_is_policy_gradient(rng, kind, horizon):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, horizon=horizon)
    policy = POLICIES[kind](rng, 5, 3, horizon)
    theta = rng.normal(size=policy.n_params)
    data = ExactOracle(mdp).query(policy, theta).dataset()
    g = tpg.policy_gradient(mdp, policy, theta)
    np.testing.assert_allclose(clipped_surrogate_gradient(policy, theta, data, 0.2), g, rtol=0,
                               atol=1e-10 * max(1, np.abs(g).max()))
    assert abs(clipped_surrogate(policy, theta, data, 0.2)) < 1e-10    # E_pi[A] = 0


def test_ppo_surrogate_gradient_matches_finite_differences_away_from_kinks(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 3)
    theta_t = rng.normal(size=12)
    data = ExactOracle(mdp).query(policy, theta_t).dataset()
    theta = theta_t + 0.3 * rng.normal(size=12)               # some ratios leave [0.8, 1.2]
    r = policy.probs(theta).reshape(-1)[data.rows(policy)] / data.old_probs
    assert ((r < 0.8) | (r > 1.2)).any()
    assert np.abs(np.abs(r - 1) - 0.2).min() > 1e-4          # no sample sits on a kink
    eps = 1e-7
    fd = np.array([(clipped_surrogate(policy, theta + eps * e, data, 0.2)
                    - clipped_surrogate(policy, theta - eps * e, data, 0.2)) / (2 * eps) for e in np.eye(12)])
    np.testing.assert_allclose(clipped_surrogate_gradient(policy, theta, data, 0.2), fd, atol=1e-7)


def test_cpi_bound_step_improves_every_iteration_by_at_least_the_bound(rng):
    mdp = random_mdp(rng, S=6, A=3, gamma=0.9)
    policy = tpg.Direct(6, 3)
    oracle = ExactOracle(mdp)
    theta = policy.initial()
    for _ in range(30):
        answers = oracle.query(policy, theta)
        pi_new = greedy_policy(answers)
        adv, eps = policy_advantage(answers, pi_new)
        alpha = bound_step(adv, eps, mdp.gamma)
        theta, _ = ConservativePolicyIteration("bound").update(policy, theta, oracle, None, None)
        gain = tpg.evaluate(mdp, policy.probs(theta)).J - answers.J
        bound = improvement_bound(alpha, adv, eps, mdp.gamma)
        assert bound > 0 and gain >= bound - 1e-12


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_kakade_langford_bound_holds_for_any_mixture(rng, gamma):
    """Theorem 4.1 holds for every alpha and every pi', not only for the greedy policy."""
    mdp = random_mdp(rng, S=5, A=3, gamma=gamma)
    policy = tpg.Direct(5, 3)
    for _ in range(20):
        pi = tpg.policies.softmax(2 * rng.normal(size=(5, 3)))
        pi_prime = tpg.policies.softmax(3 * rng.normal(size=(5, 3)))
        answers = ExactOracle(mdp).query(policy, pi.reshape(-1))
        adv, eps = policy_advantage(answers, pi_prime)
        for alpha in (0.01, 0.1, 0.5, 1.0):
            mix = (1 - alpha) * pi + alpha * pi_prime
            gain = tpg.evaluate(mdp, mix).J - answers.J
            assert gain >= improvement_bound(alpha, adv, eps, gamma) - 1e-12


CONVERGENCE = [
    ("pg", PolicyGradient(step=2.0), "softmax", 5000),
    ("npg_step", NaturalPolicyGradient(step=1.0), "softmax", 100),
    ("npg_delta", NaturalPolicyGradient(delta=0.1), "softmax", 100),
    ("projected_pg", PolicyGradient(step=0.05), "direct", 3000),
    ("cpi_bound", ConservativePolicyIteration("bound"), "direct", 3000),
    ("cpi_fixed", ConservativePolicyIteration(0.5), "direct", 100),
    ("cpi_line_search", ConservativePolicyIteration("line_search"), "direct", 100),
    ("ppo_sgd", PPO(clip=0.2, epochs=10, step=1.0), "softmax", 1000),
    ("ppo_adam", PPO(clip=0.2, epochs=10, step=0.1, minibatch=4, optimizer="adam"), "softmax", 500),
    ("cem", CEM(population=30, elite=6, noise=0.1), "softmax", 300),
]


@pytest.mark.parametrize("name, algorithm, kind, budget", CONVERGENCE, ids=[c[0] for c in CONVERGENCE])
def test_each_algorithm_reaches_the_optimum_with_the_exact_oracle(rng, name, algorithm, kind, budget):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(5, 3) if kind == "softmax" else tpg.Direct(5, 3)
    theta0 = policy.initial()
    J_star = tpg.optimum(mdp).J
    J0 = tpg.evaluate(mdp, policy.probs(theta0)).J
    target = J_star - 1e-3 * (J_star - J0)
    hist = run(algorithm, mdp, policy, theta0, ExactOracle(mdp), budget, target=target,
               rng=np.random.default_rng(0))
    assert hist.J[-1] >= target, (name, hist.iterations, J_star - hist.J[-1])
    assert hist.J.max() <= J_star + 1e-10
    assert hist.trajectories[-1] == 0 and hist.steps[-1] == 0


def test_per_step_npg_reaches_the_finite_horizon_optimum(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=1.0, horizon=6)
    policy = tpg.TabularSoftmax(4, 2, horizon=6)
    J_star = tpg.optimum(mdp).J
    hist = run(NaturalPolicyGradient(delta=0.5), mdp, policy, policy.initial(), ExactOracle(mdp), 200,
               target=J_star - 1e-6)
    assert hist.J[-1] >= J_star - 1e-6


def test_rng_driven_algorithms_are_reproducible_from_their_seed(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 3)
    for algorithm in (CEM(population=10, elite=3), PPO(minibatch=3, epochs=2)):
        runs = [run(algorithm, mdp, policy, policy.initial(), ExactOracle(mdp), 5, rng=np.random.default_rng(7))
                for _ in range(2)]
        assert runs[0].same_run(runs[1])
        other = run(algorithm, mdp, policy, policy.initial(), ExactOracle(mdp), 5, rng=np.random.default_rng(8))
        assert not runs[0].same_run(other)


def test_history_records_and_is_read_only(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2)
    hist = run(PolicyGradient(step=1.0), mdp, policy, policy.initial(), ExactOracle(mdp), 7)
    assert hist.J.shape == (8,) and hist.theta.shape == (8, 8) and hist.pi.shape == (8, 4, 2)
    np.testing.assert_allclose(hist.J, [tpg.evaluate(mdp, p).J for p in hist.pi], rtol=1e-14)
    assert np.all(np.diff(hist.wall_time) >= 0)
    assert hist.first_reaching(hist.J[3]) <= 3 and hist.first_reaching(1e9) is None
    with pytest.raises(ValueError):
        hist.J[0] = 1.0
    assert "PolicyGradient(step=1.0, normalize=True, critic='table')" == hist.algorithm


def test_run_measures_J_on_its_own_mdp_and_stops_at_target(rng):
    train = random_mdp(rng, S=4, A=2, gamma=0.9)
    test = train.with_(mu=np.eye(4)[0])
    policy = tpg.TabularSoftmax(4, 2)
    hist = run(NaturalPolicyGradient(delta=0.05), test, policy, policy.initial(), ExactOracle(train), 50)
    np.testing.assert_allclose(hist.J, [tpg.evaluate(test, p).J for p in hist.pi], rtol=1e-14)
    stop = run(NaturalPolicyGradient(delta=0.05), test, policy, policy.initial(), ExactOracle(train), 50,
               target=hist.J[4])
    assert stop.iterations == hist.first_reaching(hist.J[4])
    with pytest.warns(tpg.ConvergenceWarning, match="did not reach"):
        run(NaturalPolicyGradient(delta=0.05), test, policy, policy.initial(), ExactOracle(train), 2, target=1e9)


BAD = [
    (lambda: PolicyGradient(step=0.0), "step"),
    (lambda: PolicyGradient(step=float("nan")), "step"),
    (lambda: NaturalPolicyGradient(delta=0.0), "delta"),
    (lambda: NaturalPolicyGradient(step=1.0, delta=0.1), "step"),
    (lambda: NaturalPolicyGradient(delta=-1.0), "delta"),
    (lambda: NaturalPolicyGradient(step=1.0, damping=-1.0), "damping"),
    (lambda: ConservativePolicyIteration(0.0), "alpha"),
    (lambda: ConservativePolicyIteration(1.5), "alpha"),
    (lambda: ConservativePolicyIteration("greedy"), "alpha"),
    (lambda: PPO(clip=0.0), "clip"),
    (lambda: PPO(epochs=0), "epochs"),
    (lambda: PPO(step=-0.1), "step"),
    (lambda: PPO(minibatch=0), "minibatch"),
    (lambda: PPO(optimizer="rmsprop"), "optimizer"),
    (lambda: CEM(population=1), "population"),
    (lambda: CEM(population=5, elite=6), "elite"),
    (lambda: CEM(std=0.0), "std"),
    (lambda: CEM(noise=-1.0), "noise"),
]


@pytest.mark.parametrize("make, name", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_run_arguments(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2)
    oracle = ExactOracle(mdp)
    with pytest.raises(ValueError, match="iterations"):
        run(PolicyGradient(step=1.0), mdp, policy, policy.initial(), oracle, -1)
    with pytest.raises(ValueError, match="rng"):
        run(CEM(), mdp, policy, policy.initial(), oracle, 1)
    with pytest.raises(ValueError, match=r"\(S, A\)"):
        run(PolicyGradient(step=1.0), mdp, tpg.TabularSoftmax(3, 2), np.zeros(6), oracle, 1)
    with pytest.raises(ValueError, match="Direct"):
        run(ConservativePolicyIteration(0.5), mdp, policy, policy.initial(), oracle, 1)
    finite = random_mdp(rng, S=4, A=2, gamma=1.0, horizon=3)
    with pytest.raises(ValueError, match="bound"):
        run(ConservativePolicyIteration("bound"), finite, tpg.Direct(4, 2), tpg.Direct(4, 2).initial(),
            ExactOracle(finite), 1)
