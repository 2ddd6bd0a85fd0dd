"""Natural gradient on Fisher blocks, the Kakade sampled Fisher matrix, and the NPG/TRPO step.

Tolerances: the block solve is checked against an independent dense pseudo-inverse
(``numpy.linalg.pinv`` of ``tpg.fisher_information``) and against ``tpg.natural_gradient``
to 1e-10 relative; Monte Carlo checks use fixed seeds and 5 standard errors from the
exact variance of the per-trajectory visit weights (computed here from powers of the
exact state-transition matrix, independently of the code under test).
"""
import warnings

import numpy as np
import pytest
from conftest import random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import NaturalPolicyGradient, run
from tabular_pg.algorithms.npg import SAMPLED_DAMPING, surrogate_gain
from tabular_pg.algorithms.oracles import ExactAnswers, ExactOracle, SampledOracle
from tabular_pg.exact.fisher import FisherMatrix, fisher_matrix
from tabular_pg.sampled import estimators as E
from tabular_pg.sampled.rollout import rollout


def _cases(rng):
    """(mdp, policy, theta): tabular softmax, per-step softmax with a horizon, LogLinear, Direct."""
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    finite = random_mdp(rng, S=4, A=3, gamma=1.0, horizon=4)
    loglin = tpg.LogLinear(rng.normal(size=(5, 3, 4)))
    direct = tpg.Direct(5, 3)
    pi = tpg.policies.softmax(rng.normal(size=(5, 3)))
    return [(mdp, tpg.TabularSoftmax(5, 3), rng.normal(size=15)),
            (finite, tpg.TabularSoftmax(4, 3, horizon=4), rng.normal(size=48)),
            (finite, tpg.TabularSoftmax(4, 3), rng.normal(size=12)),
            (mdp, loglin, rng.normal(size=4)),
            (mdp, direct, direct.from_probs(pi))]


@pytest.mark.parametrize("damping", [0.0, 0.2])
def test_exact_npg_path_equals_natural_gradient_and_the_dense_pseudo_inverse(rng, damping):
    for mdp, policy, theta in _cases(rng):
        expected = tpg.natural_gradient(mdp, policy, theta, damping)
        F, g = tpg.fisher_information(mdp, policy, theta), tpg.policy_gradient(mdp, policy, theta)
        dense = (np.linalg.solve(F + damping * np.eye(g.size), g) if damping
                 else np.linalg.pinv(F, rcond=1e-10, hermitian=True) @ g)   # independent linear algebra
        scale = np.abs(dense).max()
        np.testing.assert_allclose(expected, dense, rtol=0, atol=1e-10 * scale)
        answers = ExactOracle(mdp).query(policy, theta)
        np.testing.assert_allclose(answers.natural_gradient(damping), expected, rtol=0, atol=1e-10 * scale)
        if isinstance(policy, tpg.TabularSoftmax):                            # the algorithm's own step
            new, _ = NaturalPolicyGradient(step=1.0, damping=damping).update(policy, theta, ExactOracle(mdp),
                                                                             None, None)
            np.testing.assert_allclose(new - theta, expected, rtol=0, atol=1e-10 * scale)


def test_fisher_blocks_of_every_block_policy_equal_the_score_outer_products(rng):
    for _mdp, policy, theta in _cases(rng):
        w = rng.random(policy.probs_shape[:-1])
        F = fisher_matrix(policy, theta, w)
        by_score = tpg.Policy.fisher(policy, theta, w[..., None] * policy.probs(theta))   # generic psi psi^T
        np.testing.assert_allclose(F.dense(), by_score, rtol=1e-12, atol=1e-14)
        x = rng.normal(size=policy.n_params)
        assert abs(F.quadratic(x) - x @ by_score @ x) <= 1e-12 * max(1.0, abs(x @ by_score @ x))
        assert F.is_blocks == (not isinstance(policy, tpg.LogLinear))


def test_exact_npg_at_ten_thousand_states_never_builds_the_dense_fisher():
    mdp = mdps.garnet(10_000, 4, 3, seed=0)
    policy = tpg.TabularSoftmax(10_000, 4)
    answers = ExactOracle(mdp).query(policy, policy.initial())
    assert answers.fisher_matrix.matrix.shape == (10_000, 4, 4)
    w = answers.natural_gradient()
    np.testing.assert_allclose(w, tpg.natural_gradient(mdp, policy, policy.initial()), rtol=0,
                               atol=1e-10 * np.abs(w).max())
    hist = run(NaturalPolicyGradient(delta=0.05), mdp, policy, policy.initial(), ExactOracle(mdp), 2)
    assert np.all(np.diff(hist.J) > 0)


def _visit_weight_moments(mdp, pi, T):
    """Exact mean and variance of one trajectory's Fisher weight of each state, truncated at ``T`` steps.

    :math:`X_s = (1-\\gamma)\\sum_{t<T}\\gamma^t 1[s_t=s]`; :math:`E[X_s^2]` from
    :math:`P(s_t=s, s_{t'}=s) = p_t(s) (P_\\pi^{t'-t})_{ss}`.
    """
    P = tpg.transition_matrix(mdp, pi)
    P = P.toarray() if hasattr(P, "toarray") else np.asarray(P)
    c = (1 - mdp.gamma) * mdp.gamma ** np.arange(T)
    p = [np.asarray(mdp.mu, dtype=float)]
    powers = [np.eye(mdp.n_states)]
    for _ in range(T - 1):
        p.append(p[-1] @ P)
        powers.append(powers[-1] @ P)
    p, ret = np.array(p), np.array([np.diag(M) for M in powers])          # (T, S), (T, S)
    mean = c @ p
    second = sum(c[t] ** 2 * p[t] + 2 * c[t] * p[t] * (c[t + 1:, None] * ret[1:T - t]).sum(axis=0)
                 for t in range(T))
    return mean, second - mean ** 2


def test_kakade_fisher_is_unbiased_within_5_standard_errors_infinite_horizon(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.7)
    policy = tpg.TabularSoftmax(4, 3)
    theta = rng.normal(size=12)
    n = 4000
    traj = rollout(mdp, policy.probs(theta), n, np.random.default_rng(11))
    mean_w, var_w = _visit_weight_moments(mdp, policy.probs(theta), traj.T)
    blocks = E.analytic_fisher(traj, policy, theta).matrix                # (S, A, A)
    unit = policy.fisher_blocks(theta, np.ones(4))                         # diag(pi_s) - pi_s pi_s^T
    se = np.sqrt(var_w / n)[:, None, None] * np.abs(unit)
    assert np.all(np.abs(blocks - mean_w[:, None, None] * unit) <= 5 * se + 1e-15)
    # the mean is linear in the weights: with the exact d it is the exact Fisher matrix (up to truncation)
    d = tpg.evaluate(mdp, policy.probs(theta)).d
    assert np.abs(mean_w - d).max() <= mdp.gamma ** traj.T + 1e-12
    np.testing.assert_allclose(fisher_matrix(policy, theta, d).dense(), tpg.fisher_information(mdp, policy, theta),
                               rtol=1e-12, atol=1e-14)


def test_kakade_fisher_is_unbiased_within_5_standard_errors_per_step(rng):
    """Finite horizon, per-step policy: the weight of (h, s) is Bernoulli(d_h(s)), variance d(1-d)."""
    mdp = random_mdp(rng, S=4, A=3, gamma=1.0, horizon=5)
    policy = tpg.TabularSoftmax(4, 3, horizon=5)
    theta = rng.normal(size=policy.n_params)
    n = 3000
    traj = rollout(mdp, policy.probs(theta), n, np.random.default_rng(12))
    d = tpg.evaluate(mdp, policy.probs(theta)).d.reshape(-1)              # (H*S,)
    blocks = E.analytic_fisher(traj, policy, theta).matrix
    unit = policy.fisher_blocks(theta, np.ones((5, 4)))
    se = np.sqrt(d * (1 - d) / n)[:, None, None] * np.abs(unit)
    assert np.all(np.abs(blocks - d[:, None, None] * unit) <= 5 * se + 1e-15)
    F = tpg.fisher_information(mdp, policy, theta)
    np.testing.assert_allclose(FisherMatrix.from_dense(policy, F).matrix, d[:, None, None] * unit, rtol=1e-12,
                               atol=1e-14)


def test_kakade_fisher_blocks_have_full_rank_at_every_sampled_state(rng):
    """The outer product of sampled scores is rank-deficient with few samples; Kakade's is not."""
    mdp = random_mdp(rng, S=6, A=4, gamma=0.9)
    policy = tpg.TabularSoftmax(6, 4)
    theta = rng.normal(size=24)
    traj = rollout(mdp, policy.probs(theta), 2, np.random.default_rng(3))
    kakade = SampledOracle(mdp, 2, rng=np.random.default_rng(3)).query(policy, theta).fisher_matrix.matrix
    w = E.fisher_state_weights(traj, policy)
    np.testing.assert_allclose(kakade, policy.fisher_blocks(theta, w), rtol=1e-12)
    sampled = w > 0
    assert np.all(np.linalg.matrix_rank(kakade[sampled], tol=1e-12) == 3)    # A - 1: only the constant shift


def test_estimators_natural_gradient_is_the_shared_solve(rng):
    F = np.diag([2.0, 1e-13, 1.0])                                         # 1e-13 < FISHER_RCOND * 2: dropped
    assert E.natural_gradient(np.ones(3), F).tolist() == [0.5, 0.0, 1.0]
    mdp = random_mdp(rng, S=3, A=2, gamma=0.8)
    policy = tpg.TabularSoftmax(3, 2)
    theta = rng.normal(size=6)
    Fm = fisher_matrix(policy, theta, tpg.evaluate(mdp, policy.probs(theta)).d)
    g = tpg.policy_gradient(mdp, policy, theta)
    np.testing.assert_allclose(E.natural_gradient(g, Fm), tpg.natural_gradient(mdp, policy, theta), rtol=1e-12)


def _garnet():
    return mdps.from_spec("garnet:S=10,A=3,b=3,seed=0,gamma=0.9")


@pytest.mark.parametrize("estimator", ["gae", "reinforce"])
def test_sampled_npg_step_realised_kl_is_within_1_5_delta_over_50_seeds(estimator):
    mdp, delta = _garnet(), 0.05
    policy = tpg.TabularSoftmax(10, 3)
    algorithm = NaturalPolicyGradient(delta=delta)
    moved = 0
    for seed in range(50):
        theta = np.random.default_rng(100 + seed).normal(size=30)
        answers = SampledOracle(mdp, 50, rng=np.random.default_rng(seed), estimator=estimator).query(policy, theta)
        oracle = SampledOracle(mdp, 50, rng=np.random.default_rng(seed), estimator=estimator)   # same batch
        with warnings.catch_warnings():
            warnings.simplefilter("error", tpg.ConvergenceWarning)
            new, _ = algorithm.update(policy, theta, oracle, None, None)
        kl = answers.kl(new)
        assert kl <= 1.5 * delta and surrogate_gain(answers, policy)(policy.probs(new)) > 0
        moved += kl > 0
    assert moved == 50


def test_exact_npg_step_realised_kl_is_within_1_5_delta(rng):
    for mdp, policy, theta in _cases(rng)[:3]:
        for delta in (0.01, 0.3, 3.0):
            new, _ = NaturalPolicyGradient(delta=delta).update(policy, theta, ExactOracle(mdp), None, None)
            kl = tpg.kl_divergence(mdp, policy.probs(theta), policy.probs(new))
            steps = 1 if mdp.horizon is None else mdp.horizon         # the trust region is per-step on a horizon
            assert 0 < kl / steps <= 1.5 * delta
            assert tpg.evaluate(mdp, policy.probs(new)).J > tpg.evaluate(mdp, policy.probs(theta)).J


def test_sampled_npg_uses_damping_by_default_and_none_with_the_exact_oracle(rng):
    mdp = _garnet()
    policy = tpg.TabularSoftmax(10, 3)
    theta = rng.normal(size=30)
    npg = NaturalPolicyGradient(delta=0.1)
    sampled = SampledOracle(mdp, 10, rng=np.random.default_rng(0)).query(policy, theta)
    assert npg.damping_for(sampled) == SAMPLED_DAMPING == 0.01
    assert npg.damping_for(ExactOracle(mdp).query(policy, theta)) == 0.0
    assert NaturalPolicyGradient(delta=0.1, damping=0.0).damping_for(sampled) == 0.0


def test_zero_gradient_warns_instead_of_a_silent_no_op(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9).with_(R=np.zeros((4, 2)))     # g = 0 exactly
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    for oracle in (ExactOracle(mdp), SampledOracle(mdp, 20, rng=np.random.default_rng(0), estimator="gae")):
        for algorithm in (NaturalPolicyGradient(delta=0.1), NaturalPolicyGradient(step=1.0)):
            with pytest.warns(tpg.ConvergenceWarning, match="not a finite ascent direction"):
                new, _ = algorithm.update(policy, theta, oracle, None, None)
            np.testing.assert_array_equal(new, theta)


class _Forced:
    """An exact oracle whose answers have a non-finite natural gradient or an infinite KL."""

    def __init__(self, mdp, what):
        self.inner, self.what, self.mdp = ExactOracle(mdp), what, mdp

    @property
    def cost(self):
        return self.inner.cost

    def query(self, policy, theta):
        what = self.what

        class Answers(ExactAnswers):
            def natural_gradient(self, damping=0.0):
                w = super().natural_gradient(damping)
                return np.full_like(w, np.nan) if what == "nan" else w

            def kl_probs(self, pi_new):
                return float("inf") if what == "kl" else super().kl_probs(pi_new)

        a = self.inner.query(policy, theta)
        return Answers(a.mdp, a.policy, a.theta, a.evaluation)


@pytest.mark.parametrize("what, message", [("nan", "not a finite ascent direction"),
                                           ("kl", "line search found no step")])
def test_forced_failures_warn_and_keep_theta(rng, what, message):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    with pytest.warns(tpg.ConvergenceWarning, match=message):
        new, _ = NaturalPolicyGradient(delta=0.1).update(policy, theta, _Forced(mdp, what), None, None)
    np.testing.assert_array_equal(new, theta)


def test_no_iteration_of_sampled_npg_is_a_silent_no_op():
    mdp = _garnet()
    policy = tpg.TabularSoftmax(10, 3)
    oracle = SampledOracle(mdp, 50, rng=np.random.default_rng(0), estimator="gae")
    algorithm, theta = NaturalPolicyGradient(delta=0.05), policy.initial()
    for _ in range(60):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            new, _ = algorithm.update(policy, theta, oracle, None, None)
        assert not np.array_equal(new, theta) or any(issubclass(w.category, tpg.ConvergenceWarning) for w in caught)
        assert np.abs(new).max() < 50                                       # no runaway logits
        theta = new
    assert tpg.evaluate(mdp, policy.probs(theta)).J > 0.95 * tpg.optimum(mdp).J


@pytest.mark.parametrize("kwargs, name", [(dict(delta=0.1, backtrack=1.0), "backtrack"),
                                          (dict(delta=0.1, max_backtracks=0), "max_backtracks"),
                                          (dict(delta=0.1, kl_slack=0.5), "kl_slack"),
                                          (dict(delta=0.1, damping=-1.0), "damping")])
def test_npg_rejects_bad_line_search_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NaturalPolicyGradient(**kwargs)


def test_default_is_the_trust_region_step_with_delta_one_tenth():
    assert NaturalPolicyGradient().delta == 0.1 and NaturalPolicyGradient().step is None
    assert NaturalPolicyGradient(step=0.1).delta is None
