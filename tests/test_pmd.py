"""Policy mirror descent (Lan 2022; Xiao 2022) and entropy-regularised NPG (Cen et al. 2021).

Each update is compared with an independent computation: NPG, the closed forms of the
papers written out here with scipy, the KKT conditions of the simplex projection, and a
policy iteration written out in the test.
"""
import numpy as np
import pytest
from scipy.special import softmax

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms.pmd import mirror_step


def uniform_start(mdp):
    return mdp.with_(mu=np.full(mdp.n_states, 1.0 / mdp.n_states))


MDP = uniform_start(mdps.garnet(10, 3, 2, seed=0, gamma=0.9))


def test_kl_pmd_is_npg_on_a_tabular_softmax():
    # Agarwal et al. 2021, Lemma 5.1: NPG with step alpha is pi * exp(alpha A / (1 - gamma));
    # so eta = alpha / (1 - gamma)
    pol, oracle, eta = tpg.TabularSoftmax(10, 3), tpg.ExactOracle(MDP), 0.7
    pmd = tpg.run(tpg.PolicyMirrorDescent(step=eta), MDP, pol, pol.initial(), oracle, 8)
    npg = tpg.run(tpg.NaturalPolicyGradient(step=eta * (1 - MDP.gamma)), MDP, pol, pol.initial(), oracle, 8)
    assert np.max(np.abs(pmd.pi - npg.pi)) < 1e-12
    assert np.max(np.abs(pmd.J - npg.J)) < 1e-12 * np.max(np.abs(npg.J))


def test_kl_pmd_in_probability_space_equals_the_logit_update():
    # Direct policy: pi * exp(eta Q) normalised; softmax: theta + eta A.  Two computations, one answer.
    soft, direct, oracle = tpg.TabularSoftmax(10, 3), tpg.Direct(10, 3), tpg.ExactOracle(MDP)
    algo = tpg.PolicyMirrorDescent(step=0.5, step_growth=1.5)
    a = tpg.run(algo, MDP, soft, soft.initial(), oracle, 10)
    b = tpg.run(algo, MDP, direct, direct.initial(), oracle, 10)
    assert np.max(np.abs(a.pi - b.pi)) < 1e-12


def test_euclidean_step_is_the_exact_simplex_projection():
    # KKT: p >= 0, sum p = 1, x - p = lambda on the support and x <= lambda off it
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(5), size=200)
    Q = rng.normal(size=(200, 5)) * rng.choice([0.1, 1, 10], size=(200, 1))
    p = mirror_step(pi, Q, 0.8, "euclidean")
    x = pi + 0.8 * Q
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1, atol=1e-14)
    lam = np.array([np.mean((x - p)[i][p[i] > 0]) for i in range(200)])
    on = p > 0
    assert np.max(np.abs(np.where(on, x - p - lam[:, None], 0))) < 1e-12
    assert np.all(np.where(on, True, x <= lam[:, None] + 1e-12))


def test_kl_step_matches_the_closed_form():
    pi = np.random.default_rng(1).dirichlet(np.ones(4), size=6)
    Q = np.random.default_rng(2).normal(size=(6, 4))
    expected = pi * np.exp(0.3 * Q)
    assert np.allclose(mirror_step(pi, Q, 0.3, "kl"), expected / expected.sum(axis=1, keepdims=True), rtol=1e-13)


def policy_iteration_path(mdp, steps):
    """Howard's policy iteration from the uniform policy, written out (ties: first action)."""
    pi, J = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions), []
    for _ in range(steps + 1):
        ev = tpg.evaluate(mdp, pi)
        J.append(ev.J)
        pi = np.eye(mdp.n_actions)[ev.Q.argmax(axis=1)]
    return np.array(J)


@pytest.mark.parametrize("mirror, policy, growth", [("euclidean", tpg.Direct(10, 3), 1.0),
                                                    ("kl", tpg.TabularSoftmax(10, 3), 1e8)])
def test_pmd_becomes_policy_iteration_as_the_step_grows(mirror, policy, growth):
    hist = tpg.run(tpg.PolicyMirrorDescent(step=1e8, mirror=mirror, step_growth=growth), MDP, policy,
                   policy.initial(), tpg.ExactOracle(MDP), 5)
    assert np.max(np.abs(hist.J - policy_iteration_path(MDP, 5))) < 1e-12 * np.max(np.abs(hist.J))
    assert hist.J[-1] == pytest.approx(tpg.optimum(MDP).J, rel=1e-12)


@pytest.mark.parametrize("mirror", ["kl", "euclidean"])
def test_pmd_improves_monotonically_with_constant_steps(mirror):
    # Xiao 2022, Lemma 6 / Lan 2022, Lemma 5: V^{pi_{t+1}}(s) >= V^{pi_t}(s) in every state
    pol = tpg.Direct(10, 3)
    hist = tpg.run(tpg.PolicyMirrorDescent(step=0.3, mirror=mirror), MDP, pol, pol.initial(), tpg.ExactOracle(MDP), 20)
    V = np.array([tpg.evaluate(MDP, p).V for p in hist.pi])
    assert np.all(np.diff(V, axis=0) >= -1e-12)


def test_sampled_pmd_step_equals_the_exact_step_on_a_bandit():
    # deterministic rewards, horizon 1: once every arm is pulled the sampled Q is exact
    # (P(some arm of 3 unpulled in 300 uniform pulls) = 3 (2/3)^300 < 1e-50)
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    pol = tpg.TabularSoftmax(1, 3, horizon=1)
    algo = tpg.PolicyMirrorDescent(step=2.0)
    exact = tpg.run(algo, mdp, pol, pol.initial(), tpg.ExactOracle(mdp), 3)
    sampled = tpg.run(algo, mdp, pol, pol.initial(), tpg.SampledOracle(mdp, 300, rng=np.random.default_rng(0)), 3)
    assert np.max(np.abs(exact.pi - sampled.pi)) < 1e-12
    assert sampled.trajectories[-1] == 900


def test_pmd_bad_input():
    with pytest.raises(ValueError, match="mirror"):
        tpg.PolicyMirrorDescent(mirror="l2")
    with pytest.raises(ValueError, match="step_growth"):
        tpg.PolicyMirrorDescent(step_growth=0.5)
    with pytest.raises(TypeError, match="step"):
        tpg.PolicyMirrorDescent(step="1")
    pol = tpg.TabularSoftmax(10, 3)
    with pytest.raises(ValueError, match="Direct"):
        tpg.run(tpg.PolicyMirrorDescent(mirror="euclidean"), MDP, pol, pol.initial(), tpg.ExactOracle(MDP), 1)
    chain = mdps.chain(H=3)
    stationary = tpg.TabularSoftmax(chain.n_states, chain.n_actions)
    with pytest.raises(ValueError, match="per-step policy"):
        tpg.run(tpg.PolicyMirrorDescent(), chain, stationary, stationary.initial(), tpg.ExactOracle(chain), 1)


# ------------------------------------------------------------- entropy-regularised NPG
TAU = 0.2


def test_entropy_npg_with_step_one_minus_gamma_over_tau_is_soft_policy_iteration():
    pol = tpg.TabularSoftmax(10, 3)
    theta = np.random.default_rng(3).normal(size=30)
    algo = tpg.NaturalPolicyGradient(step=(1 - MDP.gamma) / TAU, entropy=TAU)
    new, _ = algo.update(pol, theta, tpg.ExactOracle(MDP), None, None)
    Q = tpg.evaluate(MDP, pol.probs(theta), entropy=TAU).Q
    assert np.max(np.abs(pol.probs(new) - softmax(Q / TAU, axis=1))) < 1e-12


@pytest.mark.parametrize("eta", [0.1, 0.3])
def test_entropy_npg_matches_the_closed_form_of_cen_et_al(eta):
    # pi_{t+1} propto pi_t^{1 - eta tau / (1 - gamma)} exp(eta Q_tau / (1 - gamma)) (Cen et al. 2021, eq. 17)
    pol = tpg.TabularSoftmax(10, 3)
    theta = np.random.default_rng(4).normal(size=30)
    pi = pol.probs(theta)
    new, _ = tpg.NaturalPolicyGradient(step=eta, entropy=TAU).update(pol, theta, tpg.ExactOracle(MDP), None, None)
    Q, c = tpg.evaluate(MDP, pi, entropy=TAU).Q, 1 - MDP.gamma
    expected = softmax((1 - eta * TAU / c) * np.log(pi) + eta * Q / c, axis=1)
    assert np.max(np.abs(pol.probs(new) - expected)) < 1e-12


def test_sampled_soft_gradient_is_unbiased():
    # mean of K independent REINFORCE estimates on entropy-rewarded batches vs the exact grad J_tau;
    # tolerance 5 standard errors of the mean, from the estimates' own spread (K = 400 batches)
    mdp = mdps.chain(H=3, n_actions=2)
    pol = tpg.TabularSoftmax(mdp.n_states, 2, horizon=3)
    theta = np.random.default_rng(5).normal(size=pol.n_params)
    oracle = tpg.SampledOracle(mdp, 50, rng=np.random.default_rng(6), estimator="reinforce")
    G = np.array([oracle.query(pol, theta).soft(TAU).gradient for _ in range(400)])
    exact = tpg.policy_gradient(mdp, pol, theta, entropy=TAU)
    se = G.std(axis=0, ddof=1) / np.sqrt(len(G))
    live = se > 0
    assert np.all(np.abs(G.mean(axis=0) - exact)[live] <= 5 * se[live])
    assert np.allclose(G.mean(axis=0)[~live], exact[~live], atol=1e-12)


def test_entropy_npg_needs_a_fixed_step():
    with pytest.raises(ValueError, match="fixed step"):
        tpg.NaturalPolicyGradient(entropy=0.1)
    with pytest.raises(ValueError, match="entropy"):
        tpg.NaturalPolicyGradient(step=0.1, entropy=-1.0)
