"""Row samplers (issue 18): alias tables exact, draws distributed as the rows, zeros never drawn, seeds reproduce.

The exact reference of every statistical test is the row itself (weights / row sum), never
the sampler; bounds are 5 binomial standard errors of the exact probabilities, fixed seeds.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import episodic_mdp, random_mdp, random_policy

import tabular_pg as tpg
from tabular_pg.sampled.alias import alias_tables
from tabular_pg.sampled.rollout import Trajectories, rollout
from tabular_pg.sampled.samplers import METHODS, row_sampler, sampler

ROW_METHODS = ("alias", "table", "search")


def within(p_hat, p, n, k=5.0):
    """Binomial frequencies within k standard errors of the exact p (plus rounding slack)."""
    return np.all(np.abs(p_hat - p) <= k * np.sqrt(p * (1 - p) / n) + 1e-12)


def csr_rows(rng, n_rows=25, max_width=70, zeros=0.3):
    """Random CSR-like rows of mixed widths: zeros, ties (quarters) and very skewed weights."""
    counts = rng.integers(1, max_width, size=n_rows)
    starts = np.concatenate([[0], np.cumsum(counts)])
    weights = rng.random(starts[-1]) ** rng.choice([1, 5, 20], size=starts[-1])
    weights[::3] = np.round(weights[::3] * 4) / 4
    weights[rng.random(weights.size) < zeros] = 0.0
    weights[starts[:-1]] += 1e-3                                # no all-zero row
    return weights, starts


def exact_rows(weights, starts):
    """p = weights / row sum, by a per-row Python loop (independent of the samplers)."""
    return np.concatenate([weights[a:b] / weights[a:b].sum() for a, b in zip(starts[:-1], starts[1:])])


def test_alias_tables_hold_exactly_the_row_distributions():
    # The probability a table gives entry i, prob_i/w + sum over slots aliasing i of (1 - prob)/w,
    # equals the row's p_i to 1e-15 (independent reference: exact_rows), over 100 random tables.
    rng = np.random.default_rng(3)
    for _ in range(100):
        weights, starts = csr_rows(rng)
        prob, alias, entry, slot_starts = alias_tables(weights, starts)
        widths = np.diff(slot_starts)
        assert np.all(widths >= np.diff(starts)) and np.all((widths & (widths - 1)) == 0)   # powers of two
        row_of_slot = np.repeat(np.arange(widths.size), widths)
        assert np.array_equal(row_of_slot[alias], row_of_slot)                              # aliases stay in the row
        assert np.all((prob >= 0) & (prob <= 1))
        per_slot = 1.0 / widths[row_of_slot]
        mass = (np.bincount(entry, weights=prob * per_slot, minlength=weights.size)
                + np.bincount(entry[alias], weights=(1 - prob) * per_slot, minlength=weights.size))
        np.testing.assert_allclose(mass, exact_rows(weights, starts), rtol=0, atol=1e-15)
        zero = weights[entry] == 0
        assert np.all(prob[zero] == 0) and not zero[alias].any()                           # never reachable


@pytest.mark.parametrize("method", ROW_METHODS)
def test_draws_match_the_row_distributions(method):
    # 2e5 draws from each of 25 rows (widths 1..69, zeros, ties): every cell's frequency within
    # 5 standard errors of the exact p (fixed seed); zero-weight entries never drawn.
    rng = np.random.default_rng(5)
    weights, starts = csr_rows(rng)
    smp = row_sampler(weights, starts, method)
    assert smp.method == method
    m = 200_000
    rows = np.repeat(np.arange(starts.size - 1), m)
    drawn = smp.entry[smp.draw(rows, np.random.default_rng(6).random(rows.size))]
    assert np.all((drawn >= starts[rows]) & (drawn < starts[rows + 1]))
    freq = np.bincount(drawn, minlength=weights.size) / m
    assert within(freq, exact_rows(weights, starts), m)
    assert not np.any(freq[weights == 0])


@pytest.mark.parametrize("method", ROW_METHODS)
def test_zero_weights_are_never_drawn_even_at_the_largest_uniform(method):
    # u = 1 - 2^-53 (the largest uniform) on rows whose last entries weigh 0: a cumulative row
    # ending at 1 - 1e-16 would have handed it to the zero-weight tail.
    weights = np.array([0.1] * 10 + [0.0, 0.0] + [0.3, 0.7, 0.0])
    starts = np.array([0, 12, 15])
    smp = row_sampler(weights, starts, method)
    for u in (np.nextafter(1.0, 0.0), 0.0, 0.5, 0.9999999999999):
        drawn = smp.entry[smp.draw(np.array([0, 1]), np.full(2, u))]
        assert np.all(weights[drawn] > 0), (u, drawn)


def test_joint_sampler_draws_action_and_successor_with_pi_times_P(rng):
    # One alias draw of (a, s') per step: frequencies of (a, s') from each state within 5
    # standard errors of pi(a|s) P(s'|s, a) (exact), masked actions (pi = 0) never drawn.
    S, A, m = 6, 3, 100_000
    mdp = random_mdp(rng, S=S, A=A, gamma=0.9)
    pi = random_policy(rng, S, A)
    pi[2, 1] = 0.0
    pi[2] /= pi[2].sum()
    smp = sampler(mdp, pi, "joint")
    assert smp.joint and smp.n_uniforms == 1
    s = np.repeat(np.arange(S), m)
    a, s2, r = smp.advance(0, s, np.random.default_rng(8).random((1, s.size)))
    freq = np.bincount((s * A + a) * S + s2, minlength=S * A * S) / m
    exact = (pi[:, :, None] * mdp.P).reshape(-1)
    assert within(freq, exact, m)
    assert not np.any((s == 2) & (a == 1))
    np.testing.assert_array_equal(r, mdp.R[s, a])


@pytest.mark.parametrize("method", METHODS)
def test_rollout_state_action_frequencies_match_the_exact_occupancy(rng, method):
    # Every method samples trajectories exactly: per-step (s, a) frequencies of a per-step
    # policy vs the exact d_h(s, a) of evaluate, within 5 standard errors.
    H, S, A, n = 4, 9, 3, 40_000
    mdp = random_mdp(rng, S=S, A=A, gamma=0.9, horizon=H)      # rows of 9 entries: wide for "auto"
    pi = random_policy(rng, S, A, H=H)
    traj = rollout(mdp, pi, n, np.random.default_rng(1), method=method)
    keys = np.arange(H)[None, :] * S * A + traj.states * A + traj.actions
    freq = np.bincount(keys.ravel(), minlength=H * S * A) / n
    assert within(freq, tpg.evaluate(mdp, pi).d_sa.reshape(-1), n)


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_trajectories_for_every_method(rng, method):
    mdp = random_mdp(rng, S=12, A=3, gamma=0.9)
    sparse = tpg.FiniteMDP(sp.csr_matrix(mdp.P_sa), mdp.R, mdp.mu, gamma=0.9)
    pi = random_policy(rng, 12, 3)
    a, b, c = (rollout(m, pi, 300, np.random.default_rng(7), tol=1e-3, method=method) for m in (mdp, mdp, sparse))
    for name in ("states", "actions", "rewards", "mask"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
        assert np.array_equal(getattr(a, name), getattr(c, name))
    assert not np.array_equal(a.states, rollout(mdp, pi, 300, np.random.default_rng(8), tol=1e-3,
                                                method=method).states)


def exact_return_moments(mdp, pi):
    """E[G] and Var[G] of the undiscounted episodic return, by two linear solves (numpy only).

    V = r_pi + P_pi V and M = E[G^2 | s] = b + P_pi M with
    b(s) = sum_a pi(a|s) (r(s,a)^2 + 2 r(s,a) sum_s' P(s'|s,a) V(s')), on the non-terminal states.
    """
    S = mdp.n_states
    live = np.setdiff1d(np.arange(S), mdp.terminal_states())
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)[np.ix_(live, live)]
    eye = np.eye(live.size)
    V = np.zeros(S)
    V[live] = np.linalg.solve(eye - P_pi, (pi * mdp.R).sum(axis=1)[live])
    b = (pi * (mdp.R ** 2 + 2 * mdp.R * (mdp.P @ V))).sum(axis=1)
    M = np.zeros(S)
    M[live] = np.linalg.solve(eye - P_pi, b[live])
    J = mdp.mu @ V
    return J, mdp.mu @ M - J ** 2


def test_episodic_rollout_mean_return_with_the_alias_tables(rng):
    # gamma = 1, episodes end at a terminal state: the mean of 40,000 returns within 5 exact
    # standard errors of the exact J (both from exact_return_moments; J also from evaluate).
    mdp = episodic_mdp(rng)
    pi = random_policy(rng, mdp.n_states, mdp.n_actions)
    J, var = exact_return_moments(mdp, pi)
    assert abs(J - tpg.evaluate(mdp, pi).J) <= 1e-10 * max(1.0, abs(J))
    n = 40_000
    traj = rollout(mdp, pi, n, np.random.default_rng(2), method="alias")
    assert abs(traj.returns().mean() - J) <= 5 * np.sqrt(var / n)
    assert np.all(np.isin(traj.states[~traj.mask], mdp.terminal_states()))


def test_rollout_result_is_what_the_validating_constructor_gives(rng):
    # Trajectories.sampled skips validation: check that nothing it skips would have changed
    # the arrays (dtypes, 0 rewards past the end, read-only).
    mdp = episodic_mdp(rng)
    traj = rollout(mdp, random_policy(rng, mdp.n_states, mdp.n_actions), 500, np.random.default_rng(4))
    checked = Trajectories(np.array(traj.states), np.array(traj.actions), np.array(traj.rewards),
                           np.array(traj.mask), traj.gamma, traj.horizon)
    for name in ("states", "actions", "rewards", "mask"):
        x, y = getattr(traj, name), getattr(checked, name)
        assert x.dtype == y.dtype and np.array_equal(x, y)
        assert not x.flags.writeable
    assert not traj.mask.all()                                   # the episodes did end


def test_bad_method():
    mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), gamma=0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        rollout(mdp, np.ones((1, 1)), 2, np.random.default_rng(0), method="fast")
    with pytest.raises(ValueError, match="method must be one of"):
        row_sampler(np.ones(2), np.array([0, 2]), "joint")


def stepwise_rollout(mdp, pi, n, rng, T, method):
    """The rollout one step at a time through Sampler.advance (the reference for the chunked walk)."""
    smp = sampler(mdp, pi, method, draws=n * T)
    s = smp.states(rng.random(n))
    states, actions, rewards = [], [], []
    for h in range(T):
        a, s_next, r = smp.advance(h, s, rng.random((smp.n_uniforms, n)))
        states.append(s), actions.append(a), rewards.append(r)
        s = s_next
    alive = ~np.isin(np.array(states).T, mdp.terminal_states())
    return np.array(states).T, np.array(actions).T, np.where(alive, np.array(rewards).T, 0.0), alive


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["dense", "sparse", "per_step", "episodic", "until_terminated"])
def test_chunked_rollout_equals_the_step_by_step_draws(rng, method, case):
    # rollout walks chunks of steps (coded joint alias draws, bulk look-ups afterwards): it must
    # give exactly the trajectories of the same uniforms drawn step by step through advance,
    # over several chunks (n = 5000 -> 6 steps a chunk), for every method.
    T, n = 60, 5000
    if case in ("episodic", "until_terminated"):
        mdp = episodic_mdp(rng)
    else:
        mdp = random_mdp(rng, S=10, A=3, gamma=0.9, horizon=T if case == "per_step" else None)
        if case == "sparse":
            mdp = tpg.FiniteMDP(sp.csr_matrix(mdp.P_sa), mdp.R, mdp.mu, gamma=0.9)
    pi = random_policy(rng, mdp.n_states, mdp.n_actions, H=T if case == "per_step" else None)
    horizon = None if case in ("per_step", "until_terminated") else T
    traj = rollout(mdp, pi, n, np.random.default_rng(11), horizon=horizon, method=method)
    if case == "until_terminated":                    # stops at the first step where every episode is over
        T = traj.T
        assert traj.mask[:, -1].any()
        assert rollout(mdp, pi, n, np.random.default_rng(11), horizon=T + 1, method=method).mask[:, -1].sum() == 0
    expected = stepwise_rollout(mdp, pi, n, np.random.default_rng(11), T, method)
    for name, x in zip(("states", "actions", "rewards", "mask"), expected):
        np.testing.assert_array_equal(getattr(traj, name), x, err_msg=name)
