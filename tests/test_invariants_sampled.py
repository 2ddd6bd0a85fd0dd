"""Invariants of the sampled side and of the oracles on hypothesis-generated MDPs (issue 8).

The MDPs and policies come from :func:`test_invariants.mdps_and_policies` (dense and
sparse; discounted, finite-horizon and gamma = 1 episodic with an absorbing terminal;
one state, one action, deterministic transitions, unreachable states, zero rewards;
policies up to near-deterministic), extended here with ``r(s, a, s')`` rewards and
log-linear and per-step policies.  The exact-engine invariants (Bellman residual,
visitation sums, E[A] = 0, finite differences, PDL, Fisher PSD, KL >= 0) live in
``tests/test_invariants.py`` and are not repeated.

Properties:

* the exact mean of every unbiased estimator (``estimator_moments``) is the exact gradient
  of the objective the rollouts sample (the MDP's horizon, the truncation of an infinite
  one, or a horizon given to an episodic one), and its covariance is PSD;
* the rational oracle equals the float engine within the a priori error bound of the
  linear solve;
* ``rollout``'s empirical per-step state-action frequencies lie within a Bernstein bound
  of the exact occupancies, and cells of probability 0 are never sampled.

The save/load round trip (``tabular_pg.io``) belongs with io and joins when it lands.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_invariants import mdps_and_policies

import tabular_pg as tpg
from tabular_pg.exact import rational
from tabular_pg.sampled.moments import moment_horizon, truncation_bias_bound
from tabular_pg.sampled.registry import estimator_moments
from tabular_pg.sampled.rollout import reward_bound

EPS = np.finfo(float).eps


@st.composite
def cases(draw, kinds=("discounted", "finite", "episodic"), per_step=True):
    """(mdp, policy, theta) with optional r(s, a, s') rewards and log-linear or per-step policies."""
    mdp, policy, theta = draw(mdps_and_policies(kind=draw(st.sampled_from(kinds))))
    S, A = mdp.n_states, mdp.n_actions
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):                                            # rewards r(s, a, s') on the support
        P = mdp.P_sa.toarray() if mdp.is_sparse else mdp.P_sa
        R = np.where(P > 0, rng.normal(size=P.shape), 0.0).reshape(S, A, S)
        R[mdp.terminal_states()] = 0.0
        mdp = tpg.FiniteMDP(mdp.P, R, mdp.mu, mdp.gamma, mdp.horizon)
    kind = draw(st.sampled_from(["tabular", "loglinear"] + (["per-step"] if per_step and mdp.horizon else [])))
    if kind == "loglinear":
        policy = tpg.LogLinear(rng.normal(size=(S, A, draw(st.integers(1, 4)))))
        theta = rng.normal(size=policy.n_params) * draw(st.sampled_from([0.0, 1.0, 5.0]))
    elif kind == "per-step":
        policy = tpg.TabularSoftmax(S, A, horizon=mdp.horizon)
        theta = rng.normal(size=policy.n_params) * draw(st.sampled_from([0.0, 1.0, 5.0]))
    return mdp, policy, theta


#: (estimator, options) of the unbiased estimators; "fitted" baselines are biased (their exact
#: bias is tested in tests/test_moments.py) and so are not here.
UNBIASED = [
    ("reinforce", dict(reward_to_go=False)),
    ("reinforce", dict(reward_to_go=False, baseline=1.5)),
    ("reinforce", dict(reward_to_go=False, baseline="value")),
    ("reinforce", dict(reward_to_go=False, baseline="optimal")),
    ("reinforce", dict(reward_to_go=True)),
    ("reinforce", dict(reward_to_go=True, baseline=-2.0)),
    ("reinforce", dict(reward_to_go=True, baseline="value")),
    ("reinforce", dict(reward_to_go=True, baseline="optimal")),
    ("qvalue", dict(critic="exact")),
    ("qvalue", dict(critic="exact", advantage=True)),
    ("gae", dict(lam=0.0)),
    ("gae", dict(lam=0.6)),
    ("gae", dict(lam=1.0)),
]

#: Truncation of infinite horizons in the moment property: short, so that T <= ~40 steps.
SHORT_T = 40


def psi_bound(policy) -> float:
    """A bound on the entries of the score and of the features products are rounded against:
    :math:`|e_a - \\pi_s| \\le 1` (tabular), :math:`2\\max|\\phi|` (log-linear)."""
    return 2 * float(np.abs(policy.features).max()) if isinstance(policy, tpg.LogLinear) else 1.0


def sampled_objective(mdp):
    """The MDP whose exact gradient the estimators' mean must equal, and the ``tol`` for the moments."""
    if mdp.horizon is not None:
        return mdp, None
    if mdp.gamma == 1.0:
        return mdp.with_(horizon=5), None                  # episodic: rollouts cut at a horizon given to them
    tol = max(1e-12, reward_bound(mdp) * mdp.gamma ** SHORT_T / (1 - mdp.gamma))
    return mdp.with_(horizon=moment_horizon(mdp, tol)), tol


@pytest.mark.parametrize("estimator, options", UNBIASED, ids=[f"{e} {o}" for e, o in UNBIASED])
@given(case=cases())
def test_exact_mean_of_unbiased_estimators_is_the_exact_gradient(estimator, options, case):
    mdp, policy, theta = case
    target, tol = sampled_objective(mdp)
    source = mdp if tol is not None else target
    mean, cov = estimator_moments(source, policy, theta, estimator, **({"tol": tol} if tol else {}), **options)
    g = tpg.policy_gradient(target, policy, theta)
    # Tolerance: both sides are sums over at most n = T*S*A (step, state, action) terms, each at
    # most psi_max * (T * r_max + |b|) in size (|W_t| <= T r_max for the returns, the exact
    # critics and GAE; a constant baseline adds |b|); two summation orders differ by at most
    # 2 n eps sum|terms| (Higham 2002, eq. 4.4), and the DP multiplies by exact probabilities.
    T, S, A = target.horizon, mdp.n_states, mdp.n_actions
    psi_max = psi_bound(policy)
    b = abs(options.get("baseline", 0.0)) if not isinstance(options.get("baseline"), str) else T * reward_bound(mdp)
    size = psi_max * (T * reward_bound(mdp) + b)
    n = T * S * A
    assert np.abs(mean - g).max() <= 2 * n * EPS * n * size
    # the covariance: symmetric PSD up to the rounding of E[gg^T] - mean mean^T (terms <= size^2)
    assert np.array_equal(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() >= -2 * n * EPS * n * size ** 2 * cov.shape[0]
    if tol is not None:                                     # and the truncation bias is within its bound
        bound = truncation_bias_bound(mdp, policy, theta, T)
        assert np.linalg.norm(mean - tpg.policy_gradient(mdp, policy, theta)) <= bound * (1 + 1e-9) + 1e-9 * size * n


@given(case=cases(kinds=("discounted",), per_step=False), advantage=st.booleans(),
       critic=st.sampled_from(["exact", "monte_carlo"]))
def test_exact_mean_of_the_state_action_estimator_is_the_exact_gradient(case, advantage, critic):
    mdp, policy, theta = case
    mean, cov = estimator_moments(mdp, policy, theta, "visitation", critic=critic, advantage=advantage)
    g = tpg.policy_gradient(mdp, policy, theta)
    # no truncation: closed forms on both sides; |Q| <= r_max/(1-gamma), sums of S*A terms of size
    # psi_max |Q| / (1 - gamma), and the solve error kappa * 8 S eps with kappa <= (1+gamma)/(1-gamma)
    S, A = mdp.n_states, mdp.n_actions
    horizon = 1 / (1 - mdp.gamma)
    size = psi_bound(policy) * reward_bound(mdp) * horizon ** 2
    kappa = (1 + mdp.gamma) * horizon * S
    assert np.abs(mean - g).max() <= (2 * S * A + 16 * kappa * S) * EPS * size
    assert np.linalg.eigvalsh(cov).min() >= -(2 * S * A + 16 * kappa * S) * EPS * size ** 2 * len(g)


@given(case=cases(per_step=False))
def test_rational_oracle_equals_the_float_engine(case):
    mdp, policy, theta = case
    pi = policy.probs(theta)
    ev, exact = tpg.evaluate(mdp, pi), rational.evaluate(mdp, pi).to_float()
    S = mdp.n_states
    # A priori bound: a backward-stable solve has backward error eta <= 8 (S+1) eps (LU with
    # partial pivoting of a diagonally dominant matrix, growth <= 2; Higham Thm 9.4), so the
    # relative error is <= 2 kappa eta.  kappa_inf and kappa_1 of I - gamma P_pi are at most
    # (1+gamma) S/(1-gamma); gamma = 1 episodes end w.p. >= 0.3 a step (so 1/(1-gamma) -> 1/0.3);
    # finite horizons use recursions of H steps (error <= H (S+2) eps of the scale).
    eta = 8 * (S + 1) * EPS
    if mdp.horizon is not None:
        bound = mdp.horizon * (S + 2) * EPS * 4
    else:
        horizon = 1 / 0.3 if mdp.gamma == 1 else 1 / (1 - mdp.gamma)
        bound = 2 * (1 + min(mdp.gamma, 1.0)) * S * horizon * eta * 4      # x4: Q, A, d_sa, J derive from V, d
    for name in ("V", "Q", "A", "d", "d_sa", "visits"):
        got, want = getattr(ev, name), np.asarray(exact[name], dtype=float)
        scale = max(1.0, np.abs(want).max(), np.abs(mdp.R).max())
        assert np.abs(got - want).max() <= bound * scale, name
    assert abs(ev.J - exact["J"]) <= bound * max(1.0, np.abs(exact["V"]).max(), np.abs(mdp.R).max())


#: Steps compared and trajectories sampled in the occupancy property (kept small: it is cheap).
STEPS, N_TRAJ = 3, 400
#: Probability that the Bernstein band misses, per example (union bound over all cells).
DELTA = 1e-9


def bernstein_band(p: np.ndarray, n: int, cells: int) -> np.ndarray:
    """Half-width t with P(|p_hat - p| >= t) <= DELTA / cells for a Bernoulli(p) mean of n draws.

    Bernstein: P(|p_hat - p| >= t) <= 2 exp(-n t^2 / (2 p (1-p) + 2t/3)); solving for t with
    L = log(2 cells / DELTA) gives t = (L/3 + sqrt(L^2/9 + 2 n p (1-p) L)) / n.
    """
    L = np.log(2 * max(cells, 1) / DELTA)
    return (L / 3 + np.sqrt(L ** 2 / 9 + 2 * n * p * (1 - p) * L)) / n


@given(case=cases(per_step=False), seed=st.integers(0, 2**32 - 1))
def test_rollout_occupancy_matches_the_exact_per_step_occupancy(case, seed):
    mdp, policy, theta = case
    pi = policy.probs(theta)
    traj = tpg.rollout(mdp, pi, N_TRAJ, np.random.default_rng(seed), tol=1e-3)
    # compare the first steps: all of a finite horizon's, those before the truncation of a discounted
    # one; episodic rollouts stop when every episode has ended, later steps count as all-terminal
    steps = min(STEPS, mdp.horizon or STEPS, traj.T if mdp.gamma < 1 and mdp.horizon is None else STEPS)
    exact = tpg.evaluate(mdp.with_(horizon=steps), pi).d_sa                 # P(s_t = s, a_t = a), t < steps
    S, A = mdp.n_states, mdp.n_actions
    live = np.zeros(S, dtype=bool)
    live[np.setdiff1d(np.arange(S), mdp.terminal_states())] = True          # steps at terminals are masked
    counts = np.zeros((steps, S, A))
    for t in range(min(steps, traj.T)):
        keep = traj.mask[:, t]
        np.add.at(counts[t], (traj.states[keep, t], traj.actions[keep, t]), 1)
    freq, p = counts[:, live] / N_TRAJ, exact[:, live]
    assert np.all(freq[p == 0] == 0)                                        # never an impossible (s, a)
    assert np.all(np.abs(freq - p) <= bernstein_band(p, N_TRAJ, p.size) + 1e-12)
    assert np.array_equal(traj.mask, ~np.isin(traj.states, mdp.terminal_states()))


@given(cases(), st.sampled_from([".json", ".npz"]))
def test_save_load_round_trip_is_exact(tmp_path_factory, case, suffix):
    """Saving and loading gives back the same MDP bit for bit (JSON writes floats with repr)."""
    mdp = case[0]
    path = tmp_path_factory.mktemp("roundtrip") / f"mdp{suffix}"
    tpg.io.save(mdp, path)
    back = tpg.io.load(path)
    assert (back.n_states, back.n_actions, back.gamma, back.horizon, back.is_sparse) == \
        (mdp.n_states, mdp.n_actions, mdp.gamma, mdp.horizon, mdp.is_sparse)
    dense = lambda m: m.P_sa.toarray() if m.is_sparse else np.asarray(m.P_sa)  # noqa: E731
    np.testing.assert_array_equal(dense(back), dense(mdp))
    np.testing.assert_array_equal(back.R, mdp.R)
    np.testing.assert_array_equal(back.mu, mdp.mu)
