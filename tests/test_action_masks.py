"""State-dependent action sets (issue 19, item 6): FiniteMDP.mask honoured everywhere.

Independent references: the state-action-pair form (a list of the feasible pairs only, as in
QuantEcon's ``DiscreteDP``) solved with numpy's dense solver, brute force over deterministic
feasible policies, and fourth-order central differences for gradients.
"""
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_P

import tabular_pg as tpg
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import rollout

S, A = 5, 3
MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool)


def masked_mdp(seed=0, gamma=0.9, horizon=None):
    """Random transitions and rewards; the infeasible pairs get wild rewards (never to be used)."""
    rng = np.random.default_rng(seed)
    P = random_P(rng, S, A)
    R = rng.normal(size=(S, A))
    R[~MASK] = 1e3
    mu = rng.random(S) + 0.1
    return tpg.FiniteMDP(P, R, mu / mu.sum(), gamma=gamma, horizon=horizon, mask=MASK)


def pair_form(mdp):
    """The feasible pairs only: list L of (s, a), Q (L, S), r (L,) -- no infeasible pair exists here."""
    pairs = [(s, a) for s in range(S) for a in range(A) if MASK[s, a]]
    Q = np.array([mdp.P[s, a] for s, a in pairs])
    r = np.array([mdp.R[s, a] for s, a in pairs])
    return pairs, Q, r


def pair_form_values(mdp, pi):
    """V = (I - gamma P_pi)^-1 r_pi from the pair form, by Python loops and numpy.linalg.solve."""
    pairs, Q, r = pair_form(mdp)
    P_pi, r_pi = np.zeros((S, S)), np.zeros(S)
    for (s, a), q, rew in zip(pairs, Q, r):
        P_pi[s] += pi[s, a] * q
        r_pi[s] += pi[s, a] * rew
    return np.linalg.solve(np.eye(S) - mdp.gamma * P_pi, r_pi)


def masked_policy_probs(seed=1):
    rng = np.random.default_rng(seed)
    return tpg.policies.softmax(np.where(MASK, rng.normal(size=(S, A)), -np.inf))


def test_mask_is_validated():
    P, R, mu = np.full((2, 2, 2), 0.5), np.zeros((2, 2)), np.full(2, 0.5)
    with pytest.raises(ValueError, match="state 1 has none"):
        tpg.FiniteMDP(P, R, mu, gamma=0.5, mask=[[True, False], [False, False]])
    with pytest.raises(ValueError, match=r"mask must have shape \(S, A\) = \(2, 2\); got \(2,\)"):
        tpg.FiniteMDP(P, R, mu, gamma=0.5, mask=[True, True])
    with pytest.raises(TypeError, match="mask must be an array of booleans"):
        tpg.FiniteMDP(P, R, mu, gamma=0.5, mask=np.full((2, 2), 0.5))
    assert tpg.FiniteMDP(P, R, mu, gamma=0.5).mask is None


def test_quantecon_minus_inf_rewards_become_the_mask_and_empty_rows_self_loops():
    P = np.full((2, 2, 2), 0.5)
    P[1, 0] = 0.0                                                    # no transitions from an infeasible pair
    R = np.array([[1.0, 2.0], [-np.inf, 3.0]])
    mdp = tpg.FiniteMDP(P, R, np.array([1.0, 0.0]), gamma=0.5)
    assert mdp.mask.tolist() == [[True, True], [False, True]]
    assert mdp.R[1, 0] == 0.0 and mdp.P[1, 0].tolist() == [0.0, 1.0]
    assert not mdp.P.flags.writeable and np.isneginf(R[1, 0])      # the caller's arrays untouched
    assert mdp.with_(gamma=0.9).mask.tolist() == mdp.mask.tolist()


def test_evaluation_refuses_mass_on_an_infeasible_action():
    mdp = masked_mdp()
    pi = np.full((S, A), 1 / 3)
    with pytest.raises(ValueError, match=r"0\.333+ on the infeasible action a=1 in state s=1 "
                                         r"\(mdp.mask is False there; 5 such pairs\)"):
        tpg.evaluate(mdp, pi)
    with pytest.raises(ValueError, match=r"action a=1 in state s=1 \(step 1, "):
        tpg.evaluate(masked_mdp(horizon=3), np.stack([masked_policy_probs(), np.full((S, A), 1 / 3),
                                                      masked_policy_probs()]))


def test_masked_evaluation_equals_the_pair_form_evaluation():
    # V, J and d_s of the masked MDP vs the state-action-pair form (no infeasible pair at all),
    # to 1e-12 relative; the wild rewards of infeasible pairs play no part.
    mdp = masked_mdp()
    pi = masked_policy_probs()
    ev = tpg.evaluate(mdp, pi)
    V = pair_form_values(mdp, pi)
    np.testing.assert_allclose(ev.V, V, rtol=1e-12, atol=1e-13)
    assert abs(ev.J - mdp.mu @ V) <= 1e-12 * abs(mdp.mu @ V)
    pairs, Q, r = pair_form(mdp)
    Q_feasible = r + mdp.gamma * Q @ V                                # Q(s, a) on the feasible pairs
    np.testing.assert_allclose([ev.Q[s, a] for s, a in pairs], Q_feasible, rtol=1e-12, atol=1e-13)


def test_optimum_on_a_masked_mdp_is_the_best_deterministic_feasible_policy():
    # Brute force over all 3*2*1*2*2 = 24 deterministic feasible policies, each evaluated in
    # the pair form: V* is their componentwise max (to 1e-12), the optimum picks only feasible
    # actions and Q* is -inf exactly on the infeasible ones.  Discounted and finite horizon.
    mdp = masked_mdp()
    best = np.full(S, -np.inf)
    for actions in itertools.product(*(np.flatnonzero(row) for row in MASK)):
        best = np.maximum(best, pair_form_values(mdp, np.eye(A)[list(actions)]))
    opt = tpg.optimum(mdp)
    np.testing.assert_allclose(opt.V, best, rtol=1e-12, atol=1e-13)
    assert np.all(opt.pi[~MASK] == 0) and np.all(np.isneginf(opt.Q[~MASK])) and np.all(np.isfinite(opt.Q[MASK]))
    np.testing.assert_allclose(tpg.value_iteration(mdp), best, rtol=1e-10)
    finite = tpg.optimum(masked_mdp(horizon=4))
    assert np.all(finite.pi[:, ~MASK] == 0) and np.all(np.isneginf(finite.Q[:, ~MASK]))


def test_optimum_ignores_a_tempting_infeasible_action():
    # Without the mask, action 1 in state 1 (reward 1e3) would be optimal.
    mdp = masked_mdp()
    assert tpg.optimum(mdp.with_(mask=None)).pi[1, 1] == 1
    assert tpg.optimum(mdp).pi[1, 1] == 0


def central_difference(f, theta, h=1e-3):
    """Fourth-order central differences (error O(h^4) ~ 1e-12 here, rounding ~1e-13 / h)."""
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (8 * (f(theta + e) - f(theta - e)) - (f(theta + 2 * e) - f(theta - 2 * e))) / (12 * h)
    return g


@pytest.mark.parametrize("kind", ["tabular", "loglinear", "per-step"])
def test_masked_softmax_probabilities_and_gradient(kind):
    # Infeasible actions get probability exactly 0; the exact gradient matches fourth-order
    # finite differences of J to 1e-8 relative (the differences' own accuracy); the parameters
    # of infeasible actions of a tabular softmax get a gradient of exactly 0.
    rng = np.random.default_rng(4)
    horizon = 3 if kind == "per-step" else None
    mdp = masked_mdp(horizon=horizon)
    if kind == "loglinear":
        pol = tpg.LogLinear(rng.normal(size=(S, A, 4)), mask=MASK)
    else:
        pol = tpg.TabularSoftmax(S, A, horizon=horizon, mask=MASK)
    theta = rng.normal(size=pol.n_params)
    pi = pol.probs(theta)
    assert np.all(pi[..., ~MASK] == 0.0) and np.all(pi[..., MASK] > 0)
    np.testing.assert_allclose(pi.sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    g = tpg.policy_gradient(mdp, pol, theta)
    fd = central_difference(lambda th: tpg.evaluate(mdp, pol.probs(th)).J, theta)
    np.testing.assert_allclose(g, fd, rtol=0, atol=1e-8 * np.abs(fd).max())
    if kind != "loglinear":
        assert np.all(g.reshape(pi.shape)[..., ~MASK] == 0.0)


def test_sampled_actions_are_never_infeasible_and_reinforce_is_unbiased():
    # Rollouts of a masked softmax (every sampler method) never draw an infeasible action; the
    # REINFORCE mean of 20,000 trajectories is within 5 exact standard errors (exact covariance
    # from estimator_moments) of the exact gradient, itself equal to estimator_moments' mean.
    mdp = masked_mdp(horizon=4)
    pol = tpg.TabularSoftmax(S, A, mask=MASK)
    theta = np.random.default_rng(5).normal(size=pol.n_params)
    for method in ("auto", "alias", "joint", "inverse_cdf"):
        traj = rollout(mdp, pol.probs(theta), 20_000, np.random.default_rng(6), method=method)
        assert not np.any(~MASK[traj.states, traj.actions])
    mean, cov = estimator_moments(mdp, pol, theta, "reinforce")
    g = tpg.policy_gradient(mdp, pol, theta)
    np.testing.assert_allclose(mean, g, rtol=1e-10, atol=1e-12)
    n = traj.n
    est = estimate(traj, pol, theta, "reinforce")
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(est - g) <= 5 * se + 1e-12)


# ------------------------------------------------------------- pymdptoolbox's sparse layouts
def forest_sparse(S=3, r1=4.0, r2=2.0, p=0.1):
    """The layout of pymdptoolbox's ``example.forest(is_sparse=True)``: a list of two CSR ``(S, S)``, R ``(S, 2)``."""
    wait = sp.csr_matrix(([p] * S + [1 - p] * S, (list(range(S)) * 2, [0] * S + list(range(1, S)) + [S - 1])),
                         shape=(S, S))
    cut = sp.csr_matrix(([1] * S, (range(S), [0] * S)), shape=(S, S))
    R = np.zeros((S, 2))
    R[S - 1, 0], R[:, 1], R[0, 1], R[S - 1, 1] = r1, 1.0, 0.0, r2
    return [wait, cut], R


def rand_sparse(rng, S, A):
    """The layout of ``example.rand(S, A, is_sparse=True)``: lists of ``A`` CSR ``(S, S)`` P and R, same pattern."""
    P, R = [], []
    for _ in range(A):
        support = rng.random((S, S)) > 2 / 3
        support[np.arange(S), rng.integers(0, S, S)] = True
        vals = np.where(support, rng.random((S, S)), 0.0)
        P.append(sp.csr_matrix(vals / vals.sum(axis=1, keepdims=True)))
        R.append(sp.csr_matrix(np.where(support, 2 * rng.random((S, S)) - 1, 0.0)))
    return P, R


def object_array(items):
    out = np.empty(len(items), dtype=object)
    for k, item in enumerate(items):
        out[k] = item
    return out


def test_from_pymdptoolbox_forest_sparse_reproduces_the_published_values():
    # pymdptoolbox's documentation: PolicyIteration on forest() with discount 0.9 gives
    # V = (26.244, 29.484, 33.484) and the policy (0, 0, 0); list and object-array inputs.
    P, R = forest_sparse()
    for P_in in (P, tuple(P), object_array(P)):
        mdp = tpg.io.from_pymdptoolbox(P_in, R, 0.9)
        assert mdp.is_sparse and (mdp.n_states, mdp.n_actions) == (3, 2)
        opt = tpg.optimum(mdp)
        np.testing.assert_allclose(opt.V, [26.244, 29.484, 33.484], rtol=1e-12)
        assert opt.pi.argmax(axis=1).tolist() == [0, 0, 0]


def test_from_pymdptoolbox_rand_sparse_reward_matrices():
    # A lists (or object arrays) of sparse (S, S) P and R: the expected reward
    # r(s, a) = sum_s' P R (computed by Python loops) to 1e-15, and J equal to the dense
    # (A, S, S) input's J to 1e-12.
    rng = np.random.default_rng(9)
    S, A = 7, 3
    P, R = rand_sparse(rng, S, A)
    dense_P = np.stack([M.toarray() for M in P])
    dense_R = np.stack([M.toarray() for M in R])
    r = np.array([[sum(dense_P[a, s, t] * dense_R[a, s, t] for t in range(S)) for a in range(A)] for s in range(S)])
    dense = tpg.io.from_pymdptoolbox(dense_P, dense_R, 0.8)
    pi = tpg.policies.softmax(rng.normal(size=(S, A)))
    for P_in, R_in in ((P, R), (object_array(P), object_array(R))):
        mdp = tpg.io.from_pymdptoolbox(P_in, R_in, 0.8)
        np.testing.assert_allclose(mdp.R, r, rtol=0, atol=1e-15)
        assert abs(tpg.evaluate(mdp, pi).J - tpg.evaluate(dense, pi).J) <= 1e-12 * abs(tpg.evaluate(dense, pi).J)
        traj = rollout(mdp, pi, 50, np.random.default_rng(0), horizon=3)        # r(s, a, s') per sampled step
        s, a, s2 = traj.states[:, 0], traj.actions[:, 0], traj.states[:, 1]
        np.testing.assert_array_equal(traj.rewards[:, 0], dense_R[a, s, s2])
    with pytest.raises(ValueError, match=r"R must hold A = 3 matrices of shape \(S, S\)"):
        tpg.io.from_pymdptoolbox(P, [M[:, :-1] for M in R], 0.8)


def test_from_pymdptoolbox_quantecon_minus_inf_reward_masks_the_action():
    P, R = forest_sparse()
    R[1, 1] = -np.inf                                               # "cut" infeasible in state 1
    mdp = tpg.io.from_pymdptoolbox(P, R, 0.9)
    assert mdp.mask.tolist() == [[True, True], [True, False], [True, True]]
    assert tpg.optimum(mdp).pi[1, 1] == 0
    with pytest.raises(ValueError, match="infeasible action a=1 in state s=1"):
        tpg.evaluate(mdp, np.full((3, 2), 0.5))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_saved_mask_is_loaded_back(tmp_path, suffix, sparse):
    """io.save dropped the mask: a masked MDP came back unmasked and optimum could pick an infeasible action."""
    rng = np.random.default_rng(0)
    P = rng.random((4, 3, 4))
    P /= P.sum(axis=2, keepdims=True)
    R = rng.normal(size=(4, 3))
    R[:, 2] = 10.0  # the infeasible action pays the most
    mask = np.ones((4, 3), dtype=bool)
    mask[:, 2] = False
    mdp = tpg.FiniteMDP(sp.csr_matrix(P.reshape(12, 4)) if sparse else P, R, np.full(4, 0.25), gamma=0.9, mask=mask)
    tpg.io.save(mdp, tmp_path / f"m{suffix}")
    back = tpg.io.load(tmp_path / f"m{suffix}")
    assert np.array_equal(back.mask, mask)
    assert np.all(tpg.optimum(back).pi[:, 2] == 0)


def test_batch_and_rational_evaluation_refuse_an_infeasible_policy():
    """evaluate_batch and tabular_pg.rational.evaluate accepted policies on infeasible actions."""
    mdp = tpg.FiniteMDP(np.full((2, 2, 2), 0.5), np.ones((2, 2)), [0.5, 0.5], gamma=0.9,
                        mask=np.array([[True, False], [True, True]]))
    with pytest.raises(ValueError, match="infeasible action a=1 in state s=0"):
        tpg.evaluate_batch(mdp, np.full((3, 2, 2), 0.5))
    with pytest.raises(ValueError, match="infeasible action a=1 in state s=0"):
        tpg.rational.evaluate(mdp, [[0.5, 0.5], [0.5, 0.5]])
    assert tpg.rational.evaluate(mdp, [[1, 0], [0.5, 0.5]], max_denominator=10).J == 10    # r = 1: 1 / (1 - 9/10)
