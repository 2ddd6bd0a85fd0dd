"""The sample-efficiency benchmark's independent references (bench/reference_pg.py) and harness pieces.

Every expected value is computed here independently: plain Python loops over the sampled
trajectories, an explicitly assembled Fisher matrix, finite differences, or the exact J.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

import mdps
import tabular_pg as tpg

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import reference_pg as ref  # noqa: E402
import sample_efficiency as se  # noqa: E402


@pytest.fixture(scope="module")
def garnet_batch():
    mdp = mdps.garnet(5, 3, 2, seed=3, gamma=0.8)
    tab = ref.tables(mdp)
    theta = np.random.default_rng(1).normal(size=(5, 3))
    return mdp, tab, theta, ref.sample(tab, ref.softmax(theta), 20, np.random.default_rng(2))


def _plain_gae(batch, V, gamma, lam):
    """GAE by its definition sum_l (gamma lam)^l delta_{t+l}, one trajectory and step at a time."""
    n, T = batch.s.shape
    out = np.zeros((n, T))
    for i in range(n):
        steps = [t for t in range(T) if batch.alive[i, t]]
        for t in steps:
            total, k = 0.0, 0
            for u in steps[steps.index(t):]:
                nxt = 0.0 if batch.end[i, u] else V[batch.s_next[i, u]]
                total += (gamma * lam) ** k * (batch.r[i, u] + gamma * nxt - V[batch.s[i, u]])
                k += 1
                if batch.end[i, u]:
                    break
            out[i, t] = total
    return out


def test_gae_lambda_one_zero_critic_is_discounted_return_to_go():
    """lambda = 1, V = 0: GAE equals sum_{t' >= t} gamma^{t'-t} r_{t'} by a plain loop (FrozenLake:
    episodes end in holes/goal, rewards r(s, a, s') are sampled)."""
    import gymnasium
    mdp = tpg.io.from_gymnasium(gymnasium.make("FrozenLake-v1"), gamma=0.9)
    tab = ref.tables(mdp)
    batch = ref.sample(tab, np.full((mdp.n_states, mdp.n_actions), 0.25), 1000, np.random.default_rng(0))
    got = ref.gae(batch, np.zeros(mdp.n_states), 0.9, 1.0)
    want = np.zeros_like(got)
    for i in range(batch.s.shape[0]):
        G = 0.0
        for t in range(batch.s.shape[1] - 1, -1, -1):
            if batch.alive[i, t]:
                G = batch.r[i, t] + 0.9 * G
                want[i, t] = G
    assert batch.r.sum() > 0                     # some episode reached the goal: a non-trivial check
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_gae_matches_its_definition_with_a_critic(garnet_batch):
    """General lambda and a non-zero critic, truncated infinite horizon (bootstraps with V(s_T))."""
    mdp, tab, _, batch = garnet_batch
    V = np.random.default_rng(4).normal(size=mdp.n_states)
    np.testing.assert_allclose(ref.gae(batch, V, tab.gamma, 0.7), _plain_gae(batch, V, tab.gamma, 0.7),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["chain", "frozenlake"])
def test_sampler_mean_return_matches_exact_J(name):
    """chain(H=3, uniform reset) and FrozenLake (gamma = 1, episodes end in a hole or the goal,
    reward r(s, a, s')): the return is Bernoulli(J), so 5 standard errors sqrt(J(1-J)/n)."""
    if name == "chain":
        mdp = mdps.chain(H=3, reset="uniform")
    else:
        import gymnasium
        mdp = tpg.io.from_gymnasium(gymnasium.make("FrozenLake-v1"), gamma=1.0)
    pi = np.full((mdp.n_states, mdp.n_actions), 1 / mdp.n_actions)
    J = tpg.evaluate(mdp, pi).J
    n = 20_000
    batch = ref.sample(ref.tables(mdp), pi, n, np.random.default_rng(5))
    assert abs(batch.r.sum(axis=1).mean() - J) < 5 * np.sqrt(J * (1 - J) / n)


def test_fisher_solve_against_explicit_fisher(garnet_batch):
    """(F + lambda I) x = g with F = mean_i sum_a pi(a|s_i) psi psi^T assembled explicitly (to 1e-10)."""
    mdp, _, theta, batch = garnet_batch
    S, A = theta.shape
    pi = ref.softmax(theta)
    s = batch.s[batch.alive]
    g = np.random.default_rng(6).normal(size=(S, A))
    g -= g.mean(axis=1, keepdims=True)           # a policy gradient sums to 0 over each state's actions
    g[np.bincount(s, minlength=S) == 0] = 0
    F = np.zeros((S * A, S * A))
    for si in s:
        for a in range(A):
            psi = np.zeros((S, A))
            psi[si] = -pi[si]
            psi[si, a] += 1
            F += pi[si, a] * np.outer(psi.ravel(), psi.ravel()) / s.size
    for damping in (0.0, 1e-2):
        x = ref.fisher_solve(pi, s, g, damping)
        lhs = (F + damping * np.eye(S * A)) @ x.ravel()
        np.testing.assert_allclose(lhs, g.ravel(), rtol=1e-10, atol=1e-10 * np.abs(g).max())


def test_clipped_surrogate_gradient_against_finite_differences(garnet_batch):
    """Central differences (h = 1e-6, error O(h^2)) of the mean clipped surrogate at theta + shift."""
    _, _, theta, batch = garnet_batch
    m = batch.alive
    s, a = batch.s[m], batch.a[m]
    p_old = ref.softmax(theta)[s, a]
    adv = np.random.default_rng(7).normal(size=s.size)
    point = theta + np.random.default_rng(8).normal(scale=0.15, size=theta.shape)

    def surrogate(th):
        r = ref.softmax(th)[s, a] / p_old
        return np.minimum(r * adv, np.clip(r, 0.8, 1.2) * adv).mean()
    ratio = ref.softmax(point)[s, a] / p_old
    assert np.abs(np.abs(ratio - 1) - 0.2).min() > 1e-4        # no sample on a kink
    assert ((ratio > 1.2) | (ratio < 0.8)).any()                # some samples are clipped
    h, fd = 1e-6, np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[idx] = h
        fd[idx] = (surrogate(point + e) - surrogate(point - e)) / (2 * h)
    got = ref.clipped_surrogate_gradient(point, s, a, p_old, adv, 0.2)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_first_adam_step_moves_each_logit_by_lr():
    """Kingma & Ba's bias correction: at t = 1 the step is lr * g / (|g| + eps)."""
    cfg = ref.PPOConfig(lr=0.1, max_grad_norm=1e9)
    g = np.array([[0.3, -2.0], [1e-3, 0.0]])
    theta, state = ref.adam_step(np.zeros((2, 2)), g, ref.Adam(np.zeros((2, 2)), np.zeros((2, 2))), cfg)
    np.testing.assert_allclose(theta, -0.1 * g / (np.abs(g) + cfg.eps), rtol=1e-12)
    assert state.t == 1


def test_reference_npg_kl_within_delta_and_surrogate_improves(garnet_batch):
    """After the line search the sample mean KL is <= delta and J moved; the exact J rises from uniform."""
    mdp, tab, _, _ = garnet_batch
    cfg = ref.NPGConfig(delta=0.05)
    theta, V, rng = np.zeros((5, 3)), np.zeros(5), np.random.default_rng(9)
    kls = []
    for _ in range(5):
        batch = ref.sample(tab, ref.softmax(theta), 50, rng)
        new, V, kl = ref.npg_iteration(theta, V, batch, tab.gamma, cfg)
        s = batch.s[batch.alive]
        assert kl == pytest.approx(ref.mean_kl(theta, new, s), rel=1e-12)
        kls.append(kl)
        theta = new
    assert 0 < max(kls) <= cfg.delta and min(kls) >= 0
    J0 = tpg.evaluate(mdp, np.full((5, 3), 1 / 3)).J
    assert tpg.evaluate(mdp, ref.softmax(theta)).J > J0


def test_reference_ppo_improves_the_garnet():
    """A short PPO reference run ends above the uniform policy's exact J, 50 trajectories a step."""
    mdp = mdps.garnet(5, 3, 2, seed=3, gamma=0.8)
    hist = ref.run_reference("PPO", mdp, np.random.default_rng(0), n=50, budget=500)
    assert hist.trajectories.tolist() == list(range(0, 550, 50))
    assert hist.J[-1] > hist.J[0] + 0.5 * (tpg.optimum(mdp).J - hist.J[0])


def test_curve_levels_and_step_interpolation():
    c = se.Curve(np.array([1.0, 2.0, 3.0]), np.array([0, 100, 2600]))
    assert c.trajectories_to(2.0) == 100 and c.trajectories_to(3.5) == np.inf
    np.testing.assert_array_equal(c.J_at(np.array([0, 99, 100, 2599, 5000])), [1, 1, 2, 2, 3])
    med, hits = se.median_to([c, se.Curve(np.array([0.0, 2.5]), np.array([0, 50])), c], 2.4)
    assert (med, hits) == (2600.0, 3)


def test_write_section_replaces_only_its_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmark results\n\n## 5. Other\n\nkept\n\n{se.SECTION}\n\nold\n\n## 7. After\n\nkept too\n")
    se.write_section(f"{se.SECTION}\n\nnew\n", path)
    text = path.read_text()
    assert "old" not in text and "new" in text and text.count("kept") == 2 and text.count(se.SECTION) == 1
