"""Policies: the score is the gradient of log pi, the jacobian of pi, stable at large theta."""
import numpy as np
import pytest

import tabular_pg as tpg


def central_difference(f, x, eps=1e-6):
    cols = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)]
    return np.stack(cols, axis=-1)


def policies(rng):
    phi = rng.normal(size=(4, 3, 5))
    phi[3] = phi[2]                                    # aliased states 2 and 3
    return [
        (tpg.TabularSoftmax(4, 3), rng.normal(size=12)),
        (tpg.TabularSoftmax(4, 3, horizon=2), rng.normal(size=24)),
        (tpg.LogLinear(phi), rng.normal(size=5)),
        (tpg.Direct(4, 3), tpg.policies.softmax(rng.normal(size=(4, 3))).reshape(-1)),
    ]


@pytest.mark.parametrize("k", range(3))
def test_jacobian_matches_finite_differences_of_pi(rng, k):
    policy, theta = policies(rng)[k]
    fd = central_difference(policy.probs, theta)
    np.testing.assert_allclose(policy.jacobian(theta), fd, atol=1e-8)


def test_direct_jacobian_is_the_identity(rng):
    policy, theta = policies(rng)[3]
    np.testing.assert_array_equal(policy.jacobian(theta).reshape(12, 12), np.eye(12))


@pytest.mark.parametrize("k", range(3))
def test_score_is_gradient_of_log_pi(rng, k):
    policy, theta = policies(rng)[k]
    fd = central_difference(lambda t: np.log(policy.probs(t)), theta)
    np.testing.assert_allclose(policy.score(theta), fd, atol=1e-8)


@pytest.mark.parametrize("k", range(4))
def test_vjp_and_fisher_agree_with_the_materialised_score(rng, k):
    policy, theta = policies(rng)[k]
    W = rng.normal(size=policy.probs_shape)
    J = policy.jacobian(theta).reshape(-1, policy.n_params)
    np.testing.assert_allclose(policy.vjp(theta, W), W.reshape(-1) @ J, rtol=1e-12, atol=1e-14)
    w = rng.random(policy.probs_shape)
    psi = policy.score(theta).reshape(-1, policy.n_params)
    F = np.einsum("k,ki,kj->ij", w.reshape(-1), psi, psi)
    np.testing.assert_allclose(policy.fisher(theta, w), F, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k", range(3))
def test_expected_score_is_zero(rng, k):
    policy, theta = policies(rng)[k]
    pi = policy.probs(theta)
    np.testing.assert_allclose((pi[..., None] * policy.score(theta)).sum(axis=-2), 0, atol=1e-14)


def test_softmax_is_stable_for_huge_parameters():
    policy = tpg.TabularSoftmax(2, 3)
    theta = np.array([1e300, 0.0, -1e300, 800.0, 801.0, -800.0])
    pi = policy.probs(theta)
    assert np.all(np.isfinite(pi)) and np.allclose(pi.sum(axis=1), 1)
    assert np.all(np.isfinite(policy.score(theta)))
    np.testing.assert_allclose(pi[1, :2], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-14)
    assert np.all(np.isfinite(policy.log_probs(np.array([0.0, 0, 0, 800, 801, -800]))))


def test_log_linear_expresses_state_aliasing(rng):
    phi = rng.normal(size=(3, 2, 4))
    phi[2] = phi[0]
    pi = tpg.LogLinear(phi).probs(rng.normal(size=4))
    np.testing.assert_array_equal(pi[2], pi[0])


def test_initial_is_uniform(rng):
    for policy, _ in policies(rng):
        np.testing.assert_allclose(policy.probs(policy.initial()), 1 / 3)


@pytest.mark.parametrize("theta, match", [
    (np.zeros(5), r"theta must have shape \(6,\)"),
    (np.array([0, 0, np.nan, 0, 0, 0.0]), r"theta must be finite"),
])
def test_bad_theta(theta, match):
    with pytest.raises(ValueError, match=match):
        tpg.TabularSoftmax(2, 3).probs(theta)


def test_direct_rejects_non_distributions_and_projects():
    pol = tpg.Direct(2, 2)
    with pytest.raises(ValueError, match=r"rows must sum to 1 \(within 1e-09\); row \(s=1\)"):
        pol.probs(np.array([0.5, 0.5, 0.5, 0.6]))
    with pytest.raises(ValueError, match="non-negative"):
        pol.probs(np.array([1.5, -0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="undefined where pi"):
        pol.score(np.array([1.0, 0.0, 0.5, 0.5]))
    x = np.array([0.3, 2.0, -1.0, -1.0])
    p = pol.project(x)
    np.testing.assert_allclose(p, [0.0, 1.0, 0.5, 0.5])
    # the projection is the closest point: no random distribution is closer
    rng = np.random.default_rng(0)
    for _ in range(200):
        q = tpg.policies.softmax(rng.normal(size=(2, 2)) * 3).reshape(-1)
        assert np.sum((q - x) ** 2) >= np.sum((p - x) ** 2) - 1e-12


@pytest.mark.parametrize("args, exc", [((0, 2), ValueError), ((2, 0), ValueError), ((2.5, 2), TypeError)])
def test_bad_sizes(args, exc):
    with pytest.raises(exc, match="must be an int >= 1"):     # wrong type: TypeError; wrong value: ValueError
        tpg.TabularSoftmax(*args)


def test_large_tabular_softmax_refuses_to_materialise_score_and_fisher():
    pol = tpg.TabularSoftmax(20000, 4)
    theta = pol.initial()
    with pytest.raises(ValueError, match="score would be a dense array .* use vjp"):
        pol.score(theta)
    with pytest.raises(ValueError, match="Fisher matrix would be a dense array"):
        pol.fisher(theta, np.ones((20000, 4)))
    assert pol.fisher_blocks(theta, np.ones(20000)).shape == (20000, 4, 4)
