"""MDP files and interop: round trips, malformed files, gymnasium and pymdptoolbox layouts."""
import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import episodic_mdp, random_mdp

import tabular_pg as tpg
from tabular_pg import io


def assert_same_mdp(a, b):
    assert (a.n_states, a.n_actions, a.gamma, a.horizon, a.is_sparse) == \
           (b.n_states, b.n_actions, b.gamma, b.horizon, b.is_sparse)
    dense = (lambda M: M.toarray() if sp.issparse(M) else np.asarray(M))
    np.testing.assert_array_equal(dense(a.P), dense(b.P))
    np.testing.assert_array_equal(a.R, b.R)
    np.testing.assert_array_equal(a.mu, b.mu)
    assert (a.R_full is None) == (b.R_full is None)
    if a.R_full is not None:
        np.testing.assert_array_equal(dense(a.R_full), dense(b.R_full))


def full_reward_mdp(rng, sparse):
    base = random_mdp(rng, S=4, A=2)
    R = rng.normal(size=(4, 2, 4)) * (base.P > 0)
    P = sp.csr_matrix(base.P.reshape(8, 4)) if sparse else base.P
    return tpg.FiniteMDP(P, sp.csr_matrix(R.reshape(8, 4)) if sparse else R, base.mu, gamma=0.8, horizon=5)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("sparse", [False, True])
def test_round_trip_is_exact(tmp_path, rng, suffix, sparse):
    for mdp in (random_mdp(rng, S=5, A=3, sparse=sparse), full_reward_mdp(rng, sparse)):
        path = tmp_path / f"m{suffix}"
        io.save(mdp, path, actions=["a", "b", "c"][:mdp.n_actions])
        named = io.load_named(path)
        assert_same_mdp(named.mdp, mdp)
        assert named.actions == ["a", "b", "c"][:mdp.n_actions] and named.states[0] == "0"
        # the round trip keeps the exact quantities too
        pi = np.full((mdp.n_states, mdp.n_actions), 1 / mdp.n_actions)
        assert tpg.evaluate(named.mdp, pi).J == tpg.evaluate(mdp, pi).J


def test_hand_written_json_with_names_and_entries(tmp_path):
    doc = {"states": ["home", "work"], "actions": ["stay", "go"],
           "transitions": {"entries": [["home", "stay", "home", 1.0], ["home", "go", "work", 0.9],
                                       ["home", "go", "home", 0.1], [1, 0, 1, 1.0], [1, 1, 0, 1.0]]},
           "rewards": {"entries": [["work", "stay", 2.0], ["home", "go", -1.0]]},
           "mu": [1, 0], "gamma": 0.5}
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(doc))
    mdp = io.load(path)
    assert mdp.is_sparse and mdp.horizon is None
    np.testing.assert_array_equal(mdp.R, [[0.0, -1.0], [2.0, 0.0]])
    np.testing.assert_array_equal(mdp.P.toarray()[1], [0.1, 0.9])
    # V solves the Bellman equation of the optimal policy "go, stay": V = r + gamma P V
    opt = tpg.optimum(mdp)
    assert opt.pi.argmax(axis=1).tolist() == [1, 0]
    np.testing.assert_allclose(opt.V, [(-1 + 0.45 * 4) / (1 - 0.05), 4.0])


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("gamma"), "'gamma' is missing"),
    (lambda d: d.update(gamma="0.9"), "'gamma' must be a number"),
    (lambda d: d.update(horizon=2.5), "'horizon'"),
    (lambda d: d.update(states="many"), "'states'"),
    (lambda d: d.update(transitions=[[[1, 0]], [[0, "x"]]]), "'transitions'"),
    (lambda d: d.update(transitions=[[1, 0], [0, 1]]), "'transitions' must be a nested array with 3"),
    (lambda d: d.update(rewards={"entries": [[0, 0, 1.0], [0, 1]]}), "'rewards'"),
    (lambda d: d.update(rewards={"entries": [[0, 7, 1.0]]}), "'rewards' entry 0: a = 7"),
    (lambda d: d.update(mu=[0.5, 0.2]), "mu must sum to 1"),
])
def test_malformed_json_names_the_field(tmp_path, change, field):
    doc = {"states": 2, "actions": 1, "transitions": [[[1, 0]], [[0, 1]]], "rewards": [[1], [0]],
           "mu": [1, 0], "gamma": 0.9}
    io.load(_write(tmp_path, doc))                  # the unchanged document is valid
    change(doc)
    with pytest.raises(ValueError, match=field):
        io.load(_write(tmp_path, doc))


def _write(tmp_path, doc):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    return path


def test_truncated_json_and_wrong_suffix(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"states": 2, "actions": [')
    with pytest.raises(ValueError, match="not valid JSON"):
        io.load(path)
    with pytest.raises(ValueError, match="must end in .json or .npz"):
        io.load(tmp_path / "m.yaml")
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "absent.json")


def test_npz_object_arrays_are_refused_not_unpickled(tmp_path, rng):
    mdp = random_mdp(rng, S=3, A=2)
    path = tmp_path / "m.npz"
    io.save(mdp, path)
    fields = dict(np.load(path))
    fields["mu"] = np.array([object(), None, 1], dtype=object)
    np.savez(path, **fields)
    with pytest.raises(ValueError, match="'mu' holds an object array"):
        io.load(path)
    fields.pop("mu")
    np.savez(path, **fields)
    with pytest.raises(ValueError, match="'mu' is missing"):
        io.load(path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        io.load(path)


def test_load_policy_formats(tmp_path, rng):
    mdp = random_mdp(rng, S=3, A=2)
    pi = np.array([[0.25, 0.75], [1, 0], [0.5, 0.5]])
    (tmp_path / "p.json").write_text(json.dumps({"pi": pi.tolist()}))
    np.save(tmp_path / "p.npy", pi)
    np.savetxt(tmp_path / "p.csv", pi, delimiter=",")
    for name in ("p.json", "p.npy", "p.csv"):
        np.testing.assert_array_equal(io.load_policy(tmp_path / name, mdp), pi)
    np.save(tmp_path / "bad.npy", pi[:2])
    with pytest.raises(ValueError, match="shape"):
        io.load_policy(tmp_path / "bad.npy", mdp)


def test_pymdptoolbox_layouts(rng):
    for mdp in (random_mdp(rng, S=4, A=3), random_mdp(rng, S=4, A=3, sparse=True), full_reward_mdp(rng, False)):
        P, R, gamma = io.to_pymdptoolbox(mdp)
        Pd = np.stack([M.toarray() for M in P]) if isinstance(P, tuple) else P
        S, A = mdp.n_states, mdp.n_actions
        s, a = 2, 1                          # pymdptoolbox: P[a][s, s'], R[a][s, s'] or R[s, a]
        np.testing.assert_array_equal(Pd[a, s], sp.csr_matrix(mdp.P_sa).toarray()[s * A + a])
        back = io.from_pymdptoolbox(P, R, gamma, mu=mdp.mu, horizon=mdp.horizon)
        np.testing.assert_allclose(back.R, mdp.R, rtol=1e-15)
        pi = np.full((S, A), 1 / A)
        assert tpg.evaluate(back, pi).J == pytest.approx(tpg.evaluate(mdp, pi).J, rel=1e-14)
    state_reward = io.from_pymdptoolbox(np.stack([np.eye(2)] * 2), np.array([1.0, 2.0]), 0.5)
    np.testing.assert_array_equal(state_reward.R, [[1, 1], [2, 2]])
    np.testing.assert_array_equal(state_reward.mu, [0.5, 0.5])
    with pytest.raises(ValueError, match="R must have shape"):
        io.from_pymdptoolbox(np.stack([np.eye(2)] * 2), np.ones(3), 0.5)


# ------------------------------------------------------------------------ gymnasium extra
def independent_build(env, gamma):
    """From the P table by plain loops; terminal targets made zero-reward absorbing."""
    u = env.unwrapped
    S, A = env.observation_space.n, env.action_space.n
    P, PR = np.zeros((S, A, S)), np.zeros((S, A, S))
    ends = {s2 for s in range(S) for a in range(A) for p, s2, r, done in u.P[s][a] if done and p > 0}
    for s in range(S):
        for a in range(A):
            if s in ends:
                P[s, a, s] = 1.0
                continue
            for p, s2, r, _done in u.P[s][a]:
                P[s, a, s2] += p
                PR[s, a, s2] += p * r
    return P, PR.sum(axis=2), np.asarray(u.initial_state_distrib)


def latest(gym, name):
    """The newest registered version of a toy-text env (Taxi-v3 became v4, CliffWalking v0 v1)."""
    ids = [k for k in gym.registry if k.startswith(name + "-v")]
    return max(ids, key=lambda k: int(k.rsplit("-v", 1)[1]))


@pytest.mark.parametrize("name, kwargs", [("FrozenLake", {}), ("FrozenLake", {"is_slippery": False}),
                                          ("CliffWalking", {}), ("Taxi", {})])
def test_from_gymnasium_matches_independent_build(name, kwargs):
    gym = pytest.importorskip("gymnasium")
    env = gym.make(latest(gym, name), **kwargs)
    mdp = io.from_gymnasium(env, gamma=0.99)
    P, R, mu = independent_build(env, 0.99)
    np.testing.assert_allclose(mdp.P, P, atol=1e-15)
    np.testing.assert_allclose(mdp.R, R, atol=1e-12)
    np.testing.assert_array_equal(mdp.mu, mu)
    assert mdp.terminal_states().size > 0


def test_frozen_lake_known_optimum():
    gym = pytest.importorskip("gymnasium")
    mdp = io.from_gymnasium(gym.make(latest(gym, "FrozenLake")), gamma=1.0)
    assert mdp.terminal_states().tolist() == [5, 7, 11, 12, 15]
    # gamma = 1, no time limit: the optimal success probability of the slippery 4x4 lake
    # is 14/17 = 0.8235 (the value printed by value-iteration solutions of FrozenLake)
    assert tpg.optimum(mdp).J == pytest.approx(14 / 17, abs=1e-12)
    cliff = io.from_gymnasium(gym.make(latest(gym, "CliffWalking")), gamma=1.0)
    assert tpg.optimum(cliff).J == pytest.approx(-13.0)          # 13 steps along the cliff


def test_to_gymnasium_passes_the_checker_and_round_trips(rng):
    gym = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env
    for mdp in (episodic_mdp(rng), full_reward_mdp(rng, sparse=True)):
        env = io.to_gymnasium(mdp)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env, skip_render_check=True)
        back = io.from_gymnasium(env, mdp.gamma, horizon=mdp.horizon)
        np.testing.assert_allclose(back.P_sa, sp.csr_matrix(mdp.P_sa).toarray(), rtol=1e-15)
        np.testing.assert_allclose(back.R, mdp.R, rtol=1e-13)
        np.testing.assert_array_equal(back.mu, mdp.mu)
    assert isinstance(env, gym.Env)


def test_to_gymnasium_episodes_follow_the_mdp(rng):
    pytest.importorskip("gymnasium")
    mdp = full_reward_mdp(rng, sparse=False)              # horizon 5: truncated after 5 steps
    env = io.to_gymnasium(mdp)
    returns = []
    for seed in range(2000):
        s, _ = env.reset(seed=seed)
        total, done, t = 0.0, False, 0
        while not done:
            s, r, terminated, truncated, _ = env.step(t % 2)
            total += 0.8 ** t * r
            t += 1
            done = terminated or truncated
        assert t == 5
        returns.append(total)
    pi = np.zeros((5, 4, 2))
    pi[0::2, :, 0] = pi[1::2, :, 1] = 1                   # the same alternating policy, exactly
    ev = tpg.evaluate(mdp, pi)
    assert abs(np.mean(returns) - ev.J) < 5 * np.std(returns) / np.sqrt(len(returns))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_zoo_mdps_round_trip(tmp_path, suffix):
    import mdps
    for mdp in (mdps.garnet(1200, 2, 2, seed=0), mdps.russell_norvig_grid(), mdps.chain(5)):
        path = tmp_path / f"zoo{suffix}"
        io.save(mdp, path)
        back = io.load(path)
        assert back.is_sparse == mdp.is_sparse
        assert_same_mdp(back, mdp)
