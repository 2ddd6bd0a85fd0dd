"""Exact evaluation and gradients: identities, independent computations, finite differences.

Tolerances: linear-algebra identities hold to ~1e-12 relative (float64 solves of
well-conditioned systems); finite differences use central differences with eps = 1e-6,
whose truncation error O(eps^2 * J''') and rounding error O(1e-16 / eps) are ~1e-9.
"""
import itertools

import numpy as np
import pytest
from conftest import episodic_mdp, random_mdp, random_policy

import tabular_pg as tpg


def fd_gradient(mdp, policy, theta, eps=1e-6):
    J = lambda t: tpg.evaluate(mdp, policy.probs(t)).J  # noqa: E731
    return np.array([(J(theta + eps * e) - J(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.99])
def test_bellman_visitation_and_advantage_identities(rng, sparse, gamma):
    mdp = random_mdp(rng, S=7, A=3, gamma=gamma, sparse=sparse)
    pi = random_policy(rng, 7, 3)
    ev = tpg.evaluate(mdp, pi)
    P = mdp.P_sa.toarray().reshape(7, 3, 7) if sparse else mdp.P
    P_pi = np.einsum("sa,sat->st", pi, P)
    r_pi = (pi * mdp.R).sum(axis=1)
    np.testing.assert_allclose(ev.V, r_pi + gamma * P_pi @ ev.V, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ev.visits, mdp.mu + gamma * P_pi.T @ ev.visits, rtol=1e-12, atol=1e-13)
    assert abs(ev.d.sum() - 1) < 1e-12
    np.testing.assert_allclose((pi * ev.A).sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(ev.d_sa, ev.d[:, None] * pi)
    assert abs(ev.J - (ev.d @ r_pi) / (1 - gamma)) < 1e-12 * max(1, abs(ev.J))
    assert ev.residual < 1e-13


def test_evaluation_arrays_are_read_only(rng):
    ev = tpg.evaluate(random_mdp(rng), random_policy(rng, 5, 3))
    with pytest.raises(ValueError):
        ev.V[0] = 1.0


@pytest.mark.parametrize("solver", ["dense", "splu", "gmres"])
def test_every_solver_gives_the_same_answer(rng, solver):
    mdp = random_mdp(rng, S=300, A=2, gamma=0.95, sparse=True, branching=4)
    pi = random_policy(rng, 300, 2)
    ref = tpg.evaluate(mdp, pi, solver="dense")
    ev = tpg.evaluate(mdp, pi, solver=solver)
    assert ev.solver == solver and ev.residual < 1e-11
    np.testing.assert_allclose(ev.V, ref.V, rtol=1e-10)
    np.testing.assert_allclose(ev.d, ref.d, rtol=1e-10, atol=1e-15)


def policies_for(rng, S, A, H=None):
    phi = rng.normal(size=(S, A, 4))
    phi[-1] = phi[0]                           # aliasing
    out = [(tpg.TabularSoftmax(S, A), rng.normal(size=S * A)), (tpg.LogLinear(phi), rng.normal(size=4))]
    if H is not None:
        out.append((tpg.TabularSoftmax(S, A, horizon=H), rng.normal(size=H * S * A)))
    return out


@pytest.mark.parametrize("horizon", [None, 4])
def test_policy_gradient_matches_finite_differences(rng, horizon):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9 if horizon is None else 0.95, horizon=horizon)
    for policy, theta in policies_for(rng, 5, 3, horizon):
        g = tpg.policy_gradient(mdp, policy, theta)
        np.testing.assert_allclose(g, fd_gradient(mdp, policy, theta), rtol=1e-6, atol=1e-8)


def test_policy_gradient_episodic_matches_finite_differences(rng):
    mdp = episodic_mdp(rng)
    for policy, theta in policies_for(rng, 6, 3):
        np.testing.assert_allclose(tpg.policy_gradient(mdp, policy, theta),
                                   fd_gradient(mdp, policy, theta), rtol=1e-6, atol=1e-8)


def test_direct_gradient_is_visits_times_q_along_feasible_directions(rng):
    mdp = random_mdp(rng, S=4, A=3)
    pol = tpg.Direct(4, 3)
    pi, other = random_policy(rng, 4, 3), random_policy(rng, 4, 3)
    g = tpg.policy_gradient(mdp, pol, pol.from_probs(pi))
    ev = tpg.evaluate(mdp, pi)
    # sum_a grad pi = 0 on the simplex, so visits*Q and visits*A agree along feasible directions
    direction = (other - pi).reshape(-1)
    eps = 1e-6
    fd = (tpg.evaluate(mdp, pi + eps * (other - pi)).J - tpg.evaluate(mdp, pi - eps * (other - pi)).J) / (2 * eps)
    assert abs(g @ direction - fd) < 1e-8
    assert abs((ev.visits[:, None] * ev.Q).reshape(-1) @ direction - fd) < 1e-8


def enumerate_finite_horizon(mdp, pi):
    """J and d_h by summing over every trajectory (s_0, a_0, ..., s_{H-1}, a_{H-1})."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pis = np.broadcast_to(pi, (H, S, A))
    J, d = 0.0, np.zeros((H, S))
    for traj in itertools.product(range(S), range(A), repeat=H):
        s, a = traj[0::2], traj[1::2]
        p = mdp.mu[s[0]] * np.prod([pis[h, s[h], a[h]] for h in range(H)])
        p *= np.prod([mdp.P[s[h], a[h], s[h + 1]] for h in range(H - 1)])
        J += p * sum(mdp.gamma ** h * mdp.R[s[h], a[h]] for h in range(H))
        for h in range(H):
            d[h, s[h]] += p
    return J, d


@pytest.mark.parametrize("per_step", [False, True])
def test_finite_horizon_equals_trajectory_enumeration(rng, per_step):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.8, horizon=3)
    pi = random_policy(rng, 3, 2, H=3 if per_step else None)
    ev = tpg.evaluate(mdp, pi)
    J, d = enumerate_finite_horizon(mdp, pi)
    assert abs(ev.J - J) < 1e-13
    np.testing.assert_allclose(ev.d, d, atol=1e-14)
    assert ev.V.shape == (3, 3) and ev.Q.shape == (3, 3, 2)


def test_episodic_values_match_a_truncated_series(rng):
    mdp = episodic_mdp(rng)
    pi = random_policy(rng, 6, 3)
    ev = tpg.evaluate(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = (pi * mdp.R).sum(axis=1)
    V, visits, term, occ = np.zeros(6), np.zeros(6), r_pi.copy(), mdp.mu.copy()
    for _ in range(3000):                      # termination prob >= 0.23 per step
        V, visits = V + term, visits + occ
        term, occ = P_pi @ term, P_pi.T @ occ
    visits[-1] = 0.0                           # the terminal state is not counted
    np.testing.assert_allclose(ev.V, V, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ev.visits, visits, rtol=1e-12, atol=1e-13)
    assert abs(ev.d.sum() - 1) < 1e-12


def test_episodic_policy_that_never_terminates_is_rejected():
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = 1
    P[1, 0, 0] = 1  # action 0 cycles 0 <-> 1
    P[0, 1, 2] = 1
    P[1, 1, 2] = 1  # action 1 terminates
    P[2, :, 2] = 1
    mdp = tpg.FiniteMDP(P, np.zeros((3, 2)), np.array([1.0, 0, 0]), gamma=1.0)
    cycle = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"states \[0, 1\] .* never reach a terminal"):
        tpg.evaluate(mdp, cycle)
    assert tpg.evaluate(mdp, np.full((3, 2), 0.5)).J == 0.0


def test_gamma_one_without_terminal_states_is_rejected(rng):
    mdp = random_mdp(rng, gamma=1.0)
    with pytest.raises(ValueError, match="needs zero-reward absorbing"):
        tpg.evaluate(mdp, random_policy(rng, 5, 3))


@pytest.mark.parametrize("pi, match", [
    (np.full((5, 2), 0.5), r"pi must have shape \(5, 3\)"),
    (np.full((5, 3), 0.4), r"row \(0,\) sums to 1.2"),
    (np.r_[[[1.5, -0.5, 0.0]], np.full((4, 3), 1 / 3)], r"non-negative; found -0.5 at index \(0, 1\)"),
    (np.r_[[[np.nan, 0.5, 0.5]], np.full((4, 3), 1 / 3)], r"must be finite"),
])
def test_bad_policies_are_rejected(rng, pi, match):
    with pytest.raises(ValueError, match=match):
        tpg.evaluate(random_mdp(rng), pi)


def test_fisher_is_symmetric_psd_with_the_softmax_null_space(rng):
    mdp = random_mdp(rng, S=5, A=3)
    pol, theta = tpg.TabularSoftmax(5, 3), rng.normal(size=15)
    F = tpg.fisher_information(mdp, pol, theta)
    np.testing.assert_allclose(F, F.T, atol=1e-15)
    eig = np.linalg.eigvalsh(F)
    assert eig.min() > -1e-14
    assert np.sum(eig < 1e-12) == 5                           # one constant shift per state
    np.testing.assert_allclose(F @ np.kron(np.eye(5), np.ones(3)).T, 0, atol=1e-14)


def test_fisher_is_the_hessian_of_the_kl(rng):
    mdp = random_mdp(rng, S=4, A=3)
    pol, theta = tpg.TabularSoftmax(4, 3), rng.normal(size=12)
    F = tpg.fisher_information(mdp, pol, theta)
    kl = lambda t: tpg.kl_divergence(mdp, pol.probs(theta), pol.probs(t))  # noqa: E731
    eps, e = 1e-4, np.eye(12)                                              # e[i]: the i-th unit vector
    H = np.array([[(kl(theta + eps * (e[i] + e[j])) - kl(theta + eps * (e[i] - e[j]))
                    - kl(theta - eps * (e[i] - e[j])) + kl(theta - eps * (e[i] + e[j]))) / (4 * eps ** 2)
                   for j in range(12)] for i in range(12)])
    np.testing.assert_allclose(H, F, atol=1e-7)


def test_natural_gradient_tabular_is_advantage_over_one_minus_gamma(rng):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.8)
    pol, theta = tpg.TabularSoftmax(5, 3), rng.normal(size=15)
    w = tpg.natural_gradient(mdp, pol, theta).reshape(5, 3)
    A = tpg.evaluate(mdp, pol.probs(theta)).A / (1 - mdp.gamma)
    diff = w - A
    np.testing.assert_allclose(diff - diff.mean(axis=1, keepdims=True), 0, atol=1e-10)


def test_natural_gradient_block_path_equals_dense_pseudo_inverse(rng):
    mdp = random_mdp(rng, S=4, A=3)
    theta = rng.normal(size=12)
    one_hot = tpg.LogLinear(np.eye(12).reshape(4, 3, 12))    # the same policy, generic path
    for damping in (0.0, 0.1):
        w_tab = tpg.natural_gradient(mdp, tpg.TabularSoftmax(4, 3), theta, damping=damping)
        w_gen = tpg.natural_gradient(mdp, one_hot, theta, damping=damping)
        np.testing.assert_allclose(w_tab, w_gen, rtol=1e-9, atol=1e-11)
    F = tpg.fisher_information(mdp, one_hot, theta)
    g = tpg.policy_gradient(mdp, one_hot, theta)
    np.testing.assert_allclose(F @ tpg.natural_gradient(mdp, one_hot, theta), g, atol=1e-11)


def test_performance_difference_identity(rng):
    for horizon in (None, 3):
        mdp = random_mdp(rng, S=5, A=3, horizon=horizon, gamma=0.9)
        p, q = random_policy(rng, 5, 3), random_policy(rng, 5, 3)
        lhs = tpg.evaluate(mdp, q).J - tpg.evaluate(mdp, p).J
        assert abs(tpg.performance_difference(mdp, q, p) - lhs) < 1e-12


def test_trust_region_step_realises_kl_delta(rng):
    mdp = random_mdp(rng, S=5, A=3)
    pol, theta = tpg.TabularSoftmax(5, 3), rng.normal(size=15)
    errors = []
    for delta in (1e-4, 1e-6):
        new = tpg.trust_region_step(mdp, pol, theta, delta)
        kl = tpg.kl_divergence(mdp, pol.probs(theta), pol.probs(new))
        errors.append(abs(kl / delta - 1))
    # KL = delta + O(delta^1.5): the relative error shrinks ~10x when delta shrinks 100x
    assert errors[1] < 0.02 and errors[1] < errors[0] / 5


def test_kl_is_zero_for_equal_policies_and_infinite_for_lost_support(rng):
    mdp = random_mdp(rng)
    p = random_policy(rng, 5, 3)
    assert tpg.kl_divergence(mdp, p, p) == 0.0
    q = p.copy()
    q[0] = [1.0, 0.0, 0.0]
    assert tpg.kl_divergence(mdp, p, q) == np.inf
    assert np.isfinite(tpg.kl_divergence(mdp, q, p)) and tpg.kl_divergence(mdp, q, p) > 0


def test_dimension_mismatch_between_policy_and_mdp(rng):
    with pytest.raises(ValueError, match=r"policy has \(S, A\) = \(4, 3\)"):
        tpg.policy_gradient(random_mdp(rng), tpg.TabularSoftmax(4, 3), np.zeros(12))


def test_natural_gradient_of_a_saturated_softmax_is_finite_and_equals_dense_pinv(rng):
    mdp = random_mdp(rng, S=4, A=3)
    theta = rng.normal(size=12)
    theta[:3] = [700.0, -700.0, 0.0]                           # state 0: pi ~ (1, 1e-608, 1e-304)
    w_tab = tpg.natural_gradient(mdp, tpg.TabularSoftmax(4, 3), theta)
    w_gen = tpg.natural_gradient(mdp, tpg.LogLinear(np.eye(12).reshape(4, 3, 12)), theta)
    assert np.all(np.isfinite(w_tab))
    np.testing.assert_allclose(w_tab, w_gen, rtol=1e-9, atol=1e-11)
