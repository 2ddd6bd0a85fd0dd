"""Exact moments: the dynamic programme against brute-force enumeration and the exact gradient."""
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_mdp
from hypothesis import given
from hypothesis import strategies as st

import tabular_pg as tpg
from tabular_pg.sampled.moments import fitted_baseline_mean, moment_horizon, truncation_bias_bound
from tabular_pg.sampled.moments_enumeration import brute_force_moments, enumerate_trajectories
from tabular_pg.sampled.moments_recursion import ConditionalMoments, backward_step
from tabular_pg.sampled.registry import estimator_moments

UNBIASED = [
    ("reinforce", {}),
    ("reinforce", {"reward_to_go": True}),
    ("reinforce", {"baseline": -1.3}),
    ("reinforce", {"reward_to_go": True, "baseline": 2.0}),
    ("reinforce", {"reward_to_go": True, "baseline": "value"}),
    ("reinforce", {"baseline": "value"}),
    ("reinforce", {"reward_to_go": True, "baseline": "optimal"}),
    ("reinforce", {"baseline": "optimal"}),
    ("qvalue", {}),
    ("qvalue", {"advantage": True}),
    ("qvalue", {"critic": "monte_carlo", "advantage": True}),
    ("gae", {"lam": 0.0}),
    ("gae", {"lam": 0.6}),
    ("gae", {"lam": 1.0, "values": np.array([1.0, -2.0, 0.5])}),
]
BIASED = [("gae", {"lam": 0.0, "values": np.array([1.0, -2.0, 0.5])}),
          ("gae", {"lam": 0.6, "values": np.array([0.2, 0.0, 0.9])})]


def tiny_mdps(rng):
    """Three tiny finite-horizon MDPs: full rewards r(s,a,s'); gamma = 1; a terminal state."""
    S, A, H = 3, 2, 3
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    full = tpg.FiniteMDP(P, rng.normal(size=(S, A, S)), np.ones(S) / S, gamma=0.8, horizon=H)
    plain = tpg.FiniteMDP(P, rng.normal(size=(S, A)), np.array([0.5, 0.5, 0.0]), gamma=1.0, horizon=H)
    Pt = P.copy()
    Pt[2] = 0
    Pt[2, :, 2] = 1
    Rt = rng.normal(size=(S, A))
    Rt[2] = 0
    term = tpg.FiniteMDP(Pt, Rt, np.array([0.6, 0.4, 0.0]), gamma=0.9, horizon=H)
    return [full, plain, term]


def policies(rng, S=3, A=2, H=3):
    return [tpg.TabularSoftmax(S, A), tpg.TabularSoftmax(S, A, horizon=H), tpg.LogLinear(rng.normal(size=(S, A, 2)))]


@pytest.mark.parametrize("estimator,options", UNBIASED + BIASED)
def test_dp_equals_enumeration_and_unbiased_mean_equals_gradient(estimator, options):
    rng = np.random.default_rng(21)
    for mdp in tiny_mdps(rng):
        for pol in policies(rng):
            th = rng.normal(size=pol.n_params)
            mean, cov = estimator_moments(mdp, pol, th, estimator, **options)
            m_bf, c_bf = brute_force_moments(mdp, pol, th, estimator, **options)
            scale = np.abs(c_bf).max()
            assert np.allclose(mean, m_bf, rtol=1e-10, atol=1e-10 * np.abs(m_bf).max())
            assert np.allclose(cov, c_bf, rtol=1e-10, atol=1e-10 * scale)
            g = tpg.policy_gradient(mdp, pol, th)
            unbiased = np.linalg.norm(mean - g) <= 1e-10 * np.linalg.norm(g)
            assert unbiased == ((estimator, options) in UNBIASED)


def fisher_at_acting_states(mdp, pol, th):
    """sum_h E_{d_h}[psi psi^T] over the states where episodes act (terminal states excluded:
    rollouts stop there, and those states affect neither J nor its gradient)."""
    w = tpg.evaluate(mdp, pol.probs(th)).d_sa.copy()
    w[..., mdp.terminal_states(), :] = 0.0
    return pol.fisher(th, w if pol.horizon is not None else w.sum(axis=0))


def test_fisher_moments_equal_enumeration_and_fisher_information():
    rng = np.random.default_rng(22)
    for mdp in tiny_mdps(rng):
        for pol in policies(rng):
            th = rng.normal(size=pol.n_params)
            F, C = estimator_moments(mdp, pol, th, "fisher")
            m_bf, c_bf = brute_force_moments(mdp, pol, th, "fisher")
            assert np.allclose(F.ravel(), m_bf, rtol=1e-10, atol=1e-12)
            assert np.allclose(C, c_bf, rtol=1e-10, atol=1e-10 * np.abs(c_bf).max())
            assert np.allclose(F, fisher_at_acting_states(mdp, pol, th), rtol=1e-10, atol=1e-12)
            if mdp.terminal_states().size == 0:
                assert np.allclose(F, tpg.fisher_information(mdp, pol, th), rtol=1e-10, atol=1e-12)
    mdp = random_mdp(rng, S=3, A=2, gamma=0.6)
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    F_exact = tpg.fisher_information(mdp, pol, th)
    F_d, _ = estimator_moments(mdp, pol, th, "fisher", samples="visitation")
    F_t, _ = estimator_moments(mdp, pol, th, "fisher", tol=1e-13)
    assert np.allclose(F_d, F_exact, rtol=1e-10, atol=1e-13) and np.allclose(F_t, F_exact, rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="samples must be one of"):
        estimator_moments(mdp, pol, th, "fisher", samples="both")


def test_infinite_horizon_truncation_and_its_bound(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.5, sparse=True)
    pol = tpg.TabularSoftmax(4, 3)
    th = rng.normal(size=12)
    g = tpg.policy_gradient(mdp, pol, th)
    for est, opts in [("reinforce", {"reward_to_go": True, "baseline": "value"}), ("gae", {"lam": 0.9})]:
        for tol in (1e-3, 1e-14):
            mean, _ = estimator_moments(mdp, pol, th, est, tol=tol, **opts)
            T = moment_horizon(mdp, tol)
            finite = tpg.FiniteMDP(mdp.P.copy(), mdp.R, mdp.mu, mdp.gamma, horizon=T)
            assert np.allclose(mean, tpg.policy_gradient(finite, pol, th), rtol=1e-10, atol=1e-14)
            assert np.linalg.norm(mean - g) <= truncation_bias_bound(mdp, pol, th, T)
        assert np.linalg.norm(mean - g) <= 1e-10 * np.linalg.norm(g)


def test_brute_force_on_truncated_infinite_horizon(rng):
    mdp = random_mdp(rng, S=2, A=2, gamma=0.7)
    pol = tpg.TabularSoftmax(2, 2)
    th = rng.normal(size=4)
    T = moment_horizon(mdp, 0.5)
    m, c = estimator_moments(mdp, pol, th, "reinforce", tol=0.5, reward_to_go=True)
    mb, cb = brute_force_moments(mdp, pol, th, "reinforce", T=T, reward_to_go=True)
    assert np.allclose(m, mb, rtol=1e-10) and np.allclose(c, cb, rtol=1e-10, atol=1e-12)


def test_variance_ordering_on_the_chain():
    """By "Lecture 6: The Policy Gradient" eq. 26 and "Lecture 15: Policy Optimization with Trust Regions":
    reward-to-go and the value baseline reduce the variance here."""
    from test_sampling import chain
    mdp = chain(4)
    pol = tpg.TabularSoftmax(5, 3)
    th = pol.initial()
    traces = [np.trace(estimator_moments(mdp, pol, th, "reinforce", **o)[1])
              for o in ({}, {"reward_to_go": True}, {"reward_to_go": True, "baseline": "value"})]
    assert traces[0] >= traces[1] >= traces[2] > 0
    assert np.trace(estimator_moments(mdp, pol, th, "qvalue", advantage=True)[1]) < traces[2]


def test_optimal_baseline_minimises_per_step_variance_of_single_step(rng):
    """Horizon 1: b* = E[|psi|^2 Q]/E[|psi|^2] is the exact minimiser of the trace of the covariance."""
    mdp = random_mdp(rng, S=3, A=3, gamma=0.9, horizon=1)
    pol = tpg.TabularSoftmax(3, 3)
    th = rng.normal(size=9)
    best = np.trace(estimator_moments(mdp, pol, th, "reinforce", reward_to_go=True, baseline="optimal")[1])
    for b in (-1.0, 0.0, 0.5, "value"):
        assert best <= np.trace(estimator_moments(mdp, pol, th, "reinforce", reward_to_go=True, baseline=b)[1]) + 1e-12


def test_visitation_moments_closed_form(rng):
    """One state, one action, r = 1: Q_hat = 1 + Geom, E[Q_hat^2] = (1 + gamma)/(1 - gamma)^2."""
    mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1.0, 1.0]], [1.0], gamma=0.6)
    pol = tpg.TabularSoftmax(1, 2)
    th = np.array([0.4, -0.4])
    m_e, c_e = estimator_moments(mdp, pol, th, "visitation")
    m_mc, c_mc = estimator_moments(mdp, pol, th, "visitation", critic="monte_carlo")
    assert np.allclose(m_e, 0) and np.allclose(m_mc, 0)
    ratio = np.trace(c_mc) / np.trace(c_e)                 # E[Q_hat^2] / Q^2
    assert np.isclose(ratio, (1 + 0.6) / (1 - 0.6) ** 2 / (1 / (1 - 0.6)) ** 2)


def test_fitted_baseline_and_bad_arguments(rng):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9, horizon=3)
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    g = tpg.policy_gradient(mdp, pol, th)
    assert np.allclose(fitted_baseline_mean(mdp, pol, th, 1), 0, atol=1e-12)   # n = 1: b_hat = own return
    with pytest.raises(ValueError, match="fitted_baseline_mean"):
        estimator_moments(mdp, pol, th, "reinforce", baseline="fitted")
    with pytest.raises(ValueError, match="estimator must be one of"):
        estimator_moments(mdp, pol, th, "reinforcement")
    with pytest.raises(ValueError, match="n must be"):
        fitted_baseline_mean(mdp, pol, th, 0)
    with pytest.raises(ValueError, match="infinite horizon"):
        estimator_moments(mdp, pol, th, "visitation")
    assert g.shape == (6,)


def test_enumeration_probabilities_sum_to_one(rng):
    mdp = tiny_mdps(rng)[2]
    traj, p = enumerate_trajectories(mdp, np.full((3, 2), 0.5), 3)
    assert np.isclose(p.sum(), 1.0) and np.all(p > 0)
    G = traj.returns()
    assert np.isclose(p @ G, tpg.evaluate(mdp, np.full((3, 2), 0.5)).J)


@given(seed=st.integers(0, 2 ** 32 - 1), H=st.integers(1, 3), lam=st.floats(0, 1),
       rtg=st.booleans(), baseline=st.sampled_from([None, 0.7, "value", "optimal"]))
def test_property_dp_equals_enumeration(seed, H, lam, rtg, baseline):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, S=2, A=2, gamma=float(rng.uniform(0.5, 1.0)), horizon=H)
    pol = tpg.TabularSoftmax(2, 2)
    th = rng.normal(size=4) * 2
    for est, opts in [("reinforce", {"reward_to_go": rtg, "baseline": baseline}), ("gae", {"lam": lam})]:
        m, c = estimator_moments(mdp, pol, th, est, **opts)
        mb, cb = brute_force_moments(mdp, pol, th, est, **opts)
        assert np.allclose(m, mb, rtol=1e-10, atol=1e-12) and np.allclose(c, cb, rtol=1e-10, atol=1e-12)


def enumerated_moments(prob, Z, X, Y):
    """The nine moments of ConditionalMoments as sums over paths: prob, Z (m,); X, Y (m, p)."""
    def E(q):
        return np.tensordot(prob, q, axes=1)
    return (E(Z), E(Z ** 2), E(X), E(X * Z[:, None]), E(Y), E(Y * Z[:, None]),
            E(X[:, :, None] * X[:, None, :]), E(X[:, :, None] * Y[:, None, :]), E(Y[:, :, None] * Y[:, None, :]))


@pytest.mark.parametrize("H", [2, 3])
def test_backward_step_equals_enumeration(H):
    """One backward step (backward_step, Notes) against explicit enumeration of the trajectories.

    2 states, 2 actions, H steps, p = 3 random features, a random signal rho_h(s, a, s'), weight
    u_h, beta_h, zeta, eta all nonzero.  The moments given s_1 (the input) and given (s_0, a_0)
    (the expected output) are probability-weighted sums over every path, with Z_h, X_h, Y_h from
    the estimator's closed form Y_h = sum_{t>=h} psi_t (u_t + beta_t sum_{t'>=t} zeta^(t'-t) rho_t'
    + eta sum_{h<=t'<t} rho_t'), not from the recursion: an independent computation, to 1e-12
    relative.  The displayed E[YY^T] = psi psi^T E[W^2] + psi E[WL]^T + E[WL] psi^T + E[LL^T] is
    checked term by term too: each term is > 1e-3 of the total, so dropping or mis-weighting any
    one fails.  H = 3 makes E'_1[X'Y'^T] asymmetric, so the transpose in E[LL^T] matters (the
    final covariance is symmetrised, which hides that error from the other tests).
    """
    rng = np.random.default_rng(20261202)
    S, A, p = 2, 2, 3
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    pi = rng.random((H, S, A))
    pi /= pi.sum(axis=2, keepdims=True)
    rho, psi, u = rng.normal(size=(H, S, A, S)), rng.normal(size=(H, S, A, p)), rng.normal(size=(H, S, A))
    beta, zeta, eta = rng.uniform(0.5, 1.5, size=H) * np.array([1, -1, 1][:H]), 0.8, 0.6

    def paths(h, s, a=None):
        """Every (prob, [(s_t, a_t, s_t+1) for t = h..H-1]) from s_h = s (and a_h = a if given)."""
        for choice in itertools.product(range(A), range(S), repeat=H - h):
            acts, seq = choice[0::2], (s, *choice[1::2])
            if a is not None and acts[0] != a:
                continue
            prob = np.prod([(1.0 if a is not None and k == 0 else pi[h + k, seq[k], acts[k]])
                            * P[seq[k], acts[k], seq[k + 1]] for k in range(H - h)])
            yield prob, [(h + k, seq[k], acts[k], seq[k + 1]) for k in range(H - h)]

    def closed_form(path):
        """Z_h, X_h, Y_h of one path by their sums."""
        r = [rho[step] for step in path]
        sc = [psi[step[:3]] for step in path]
        to_go = [sum(zeta ** (j - k) * r[j] for j in range(k, len(path))) for k in range(len(path))]
        Y = sum(sc[k] * (u[path[k][:3]] + beta[path[k][0]] * to_go[k] + eta * sum(r[:k])) for k in range(len(path)))
        return to_go[0], sum(sc), Y

    def moments_from(h, s, a=None):
        prob, walks = zip(*paths(h, s, a))
        Z, X, Y = map(np.array, zip(*map(closed_form, walks)))
        return np.array(prob), Z, X, Y

    next_moments = ConditionalMoments(*map(np.stack, zip(*(enumerated_moments(*moments_from(1, s)) for s in range(S)))))
    rows, terms = [], []
    for s0, a0 in itertools.product(range(S), range(A)):
        prob, Z0, X0, Y0 = moments_from(0, s0, a0)
        rows.append(enumerated_moments(prob, Z0, X0, Y0))
        psi_0, W0 = psi[0, s0, a0], u[0, s0, a0] + beta[0] * Z0
        L0 = Y0 - psi_0 * W0[:, None]
        E_WL = prob @ (W0[:, None] * L0)
        terms.append([np.outer(psi_0, psi_0) * (prob @ W0 ** 2), np.outer(psi_0, E_WL), np.outer(E_WL, psi_0),
                      np.einsum("b,bi,bj->ij", prob, L0, L0)])
    expected = ConditionalMoments(*map(np.stack, zip(*rows)))

    P_signal_powers = tuple(sp.csr_matrix((P * rho[0] ** k).reshape(S * A, S)) for k in range(3))
    got = backward_step(next_moments, P_signal_powers, psi[0].reshape(S * A, p), u[0].reshape(-1),
                        beta[0], zeta, eta)
    for name in ("E_Z", "E_ZZ", "E_X", "E_XZ", "E_Y", "E_YZ", "E_XX", "E_XY", "E_YY"):
        want = getattr(expected, name)
        assert np.allclose(getattr(got, name), want, rtol=1e-12, atol=1e-12 * np.abs(want).max()), name
    for row, four in enumerate(terms):
        E_YY = expected.E_YY[row]
        assert np.allclose(sum(four), E_YY, rtol=1e-12, atol=1e-12 * np.abs(E_YY).max())
        assert all(np.abs(term).max() > 1e-3 * np.abs(E_YY).max() for term in four)
