"""Determinism (issue 8): the same seed gives bit-identical results, in this process and in another.

:func:`fingerprints` hashes (SHA-256 of dtype, shape and bytes) the rollouts, visitation
samples, sampled estimates and generated MDPs of one seed.  The tests compare two runs in
this process, and this process with a fresh interpreter started with a different
``PYTHONHASHSEED`` (so that nothing may depend on set or dict ordering of strings).

Training histories (``tabular_pg.run`` of PG, NPG, PPO and CEM on a ``SampledOracle``)
are fingerprinted too: their exact J and every iterate's theta.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import scipy.sparse as sp

import mdps
import tabular_pg as tpg
from tabular_pg.sampled import estimators as est

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _mdps(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    garnet = mdps.garnet(30, 3, 4, seed=seed, gamma=0.95)
    sparse = mdps.garnet(25, 2, 3, seed=seed, gamma=0.9, sparse=True)     # CSR transitions
    wide = mdps.garnet(40, 2, 25, seed=seed, gamma=0.8)                    # rows wider than 16: searchsorted
    P = rng.random((6, 2, 6))
    P[:, :, -1] += 0.4
    P /= P.sum(axis=2, keepdims=True)
    P[-1] = 0.0
    P[-1, :, -1] = 1.0
    R = rng.normal(size=(6, 2, 6))
    R[-1] = 0.0
    episodic = tpg.FiniteMDP(sp.csr_matrix(P.reshape(12, 6)), R, np.r_[np.ones(5) / 5, 0.0], gamma=1.0)
    return {"garnet": garnet, "garnet sparse": sparse, "garnet wide": wide, "episodic full rewards": episodic,
            "chain finite": mdps.chain(6, reset="uniform"), "grid": mdps.russell_norvig_grid()}


def fingerprints(seed: int) -> dict:
    """Hashes of everything sampled from ``seed`` (and of the MDPs generated from it)."""
    out = {}
    for name, mdp in _mdps(seed).items():
        S, A = mdp.n_states, mdp.n_actions
        pol = tpg.TabularSoftmax(S, A)
        theta = np.random.default_rng(seed + 1).normal(size=S * A)
        pi = pol.probs(theta)
        out[f"{name}: mdp"] = digest(mdp.P_sa.toarray() if mdp.is_sparse else mdp.P, mdp.R, mdp.mu)
        traj = tpg.rollout(mdp, pi, 64, np.random.default_rng(seed), tol=1e-4)
        out[f"{name}: rollout"] = digest(traj.states, traj.actions, traj.rewards, traj.mask)
        out[f"{name}: reinforce"] = digest(est.reinforce(traj, pol, theta, reward_to_go=True, baseline="fitted",
                                                         per_trajectory=True))
        out[f"{name}: gae"] = digest(est.gae(traj, pol, theta, 0.9, values="fitted"))
        out[f"{name}: fisher"] = digest(est.fisher(traj, pol, theta))
        if mdp.horizon is None and mdp.gamma < 1:
            samples = tpg.sample_visitation(mdp, pi, 64, np.random.default_rng(seed))
            out[f"{name}: visitation samples"] = digest(samples.states, samples.actions, samples.q_returns)
            out[f"{name}: visitation"] = digest(est.visitation(samples, pol, theta, mdp, critic="monte_carlo"))
    per_step = tpg.TabularSoftmax(7, 3, horizon=6)
    theta = np.random.default_rng(seed).normal(size=per_step.n_params)
    chain = mdps.chain(6)
    traj = tpg.rollout(chain, per_step.probs(theta), 64, np.random.default_rng(seed))
    out["chain per-step: rollout"] = digest(traj.states, traj.actions, traj.rewards, traj.mask)
    out["chain per-step: qvalue"] = digest(est.qvalue(traj, per_step, theta, chain, advantage=True))
    garnet = mdps.garnet(6, 3, 2, seed=seed)
    pol = tpg.TabularSoftmax(6, 3)
    for name, algorithm in (("pg", tpg.PolicyGradient(step=0.5)), ("npg", tpg.NaturalPolicyGradient(delta=0.05)),
                            ("ppo", tpg.PPO(clip=0.2, epochs=3, step=0.5, minibatch=16)),
                            ("cem", tpg.CEM(population=8, elite=2))):
        oracle = tpg.SampledOracle(garnet, n=16, rng=np.random.default_rng(seed))
        hist = tpg.run(algorithm, garnet, pol, pol.initial(), oracle, iterations=4, rng=np.random.default_rng(seed + 2))
        out[f"garnet {name}: training history"] = digest(np.asarray(hist.J), np.asarray(hist.theta))
    return out


def test_same_seed_same_bits_within_a_process():
    a, b = fingerprints(11), fingerprints(11)
    assert a == b


def test_different_seeds_differ():
    a, b = fingerprints(11), fingerprints(12)
    differ = [k for k in a if a[k] != b[k]]
    assert all(k in differ for k in a if k.endswith(": rollout") or k.endswith("visitation samples"))
    assert "garnet: mdp" in differ and "grid: mdp" not in differ          # the zoo grid has no seed


def test_same_seed_same_bits_in_another_process():
    code = ("import json, sys; sys.path.insert(0, 'tests'); from test_determinism import fingerprints; "
            "print(json.dumps(fingerprints(11)))")
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    other = json.loads(done.stdout.strip().splitlines()[-1])
    mine = fingerprints(11)
    assert sorted(other) == sorted(mine)
    assert {k: v for k, v in other.items() if mine[k] != v} == {}
