"""Reliability (issue 20): untrusted MDPs and files fail with a clear ValueError/TypeError.

Each test is one finding of the issue and failed before its fix: sparse structures that
made scipy read out of bounds (segfault, double free), rows whose error the discount
amplifies into a wrong answer, and inputs that gave foreign errors or were silently
accepted.  Expected values come from closed forms, never from the code under test.
"""
import json
import math
import subprocess
import sys
import zipfile
from types import SimpleNamespace as NS

import numpy as np
import pytest
import scipy.sparse as sp

import tabular_pg as tpg
from tabular_pg import io
from tabular_pg._checks import transition_atol
from tabular_pg.io import files

R2, MU2 = np.array([[1.0], [0.0]]), np.array([1.0, 0.0])


def bad_csr(indices, indptr=(0, 1, 2)):
    """A 2 x 2 CSR matrix with the given raw structure (scipy does not check the indices)."""
    return sp.csr_matrix((np.array([1.0, 1.0]), np.array(indices), np.array(indptr)), shape=(2, 2))


@pytest.mark.parametrize("indices, indptr, match", [
    ([10**9, 1], (0, 1, 2), r"column indices must lie in \[0, 2\); found 1000000000"),
    ([-1, 1], (0, 1, 2), r"column indices must lie in \[0, 2\); found -1"),
])
def test_out_of_range_sparse_indices_are_refused_not_dereferenced(indices, indptr, match):
    with pytest.raises(ValueError, match=match):
        tpg.FiniteMDP(bad_csr(indices, indptr), R2, MU2, gamma=0.5)


def test_inconsistent_indptr_is_refused():
    M = bad_csr([0, 1])
    M.indptr = np.array([0, 3, 2], dtype=M.indptr.dtype)         # decreasing
    with pytest.raises(ValueError, match="indptr must be non-decreasing"):
        tpg.FiniteMDP(M, R2, MU2, gamma=0.5)
    C = sp.csc_matrix(np.eye(2))
    C.indices = np.array([0, 7], dtype=C.indices.dtype)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 2\)"):
        tpg.FiniteMDP(C, R2, MU2, gamma=0.5)


def test_unsorted_and_duplicate_entries_are_canonicalised():
    """Duplicates add up (as in the JSON entry form); the result equals the dense MDP."""
    M = sp.csr_matrix((np.array([0.25, 0.5, 0.25, 1.0]), np.array([1, 0, 1, 1]), np.array([0, 3, 4])), shape=(2, 2))
    mdp = tpg.FiniteMDP(M, R2, MU2, gamma=0.5)
    assert np.array_equal(mdp.P.toarray(), [[0.5, 0.5], [0.0, 1.0]])


def _npz(path, **overrides):
    content = dict(P_data=np.array([1.0, 1.0]), P_indices=np.array([1, 1]), P_indptr=np.array([0, 1, 2]),
                   P_shape=np.array([2, 2]), R=R2, mu=MU2, gamma=np.array(0.5), horizon=np.array(3))
    content.update(overrides)
    np.savez(path, **content)
    return path


@pytest.mark.parametrize("override, match", [
    ({"P_indices": np.array([10**9, 1])}, r"column indices must lie in \[0, 2\)"),
    ({"P_indices": np.array([-1, 1])}, r"column indices must lie in \[0, 2\)"),
    ({"P_indices": np.array([1.0, 1.0])}, r"indices must be a 1-D array of integers"),
    ({"P_shape": np.array([2.7, 2.0])}, r"shape must be two integers"),
    ({"P_indptr": np.array([0, 1])}, r"indptr must have shape\[0\] \+ 1 = 3 entries"),
    ({"gamma": np.array("0.5")}, r"'gamma' must be a numeric scalar"),
])
def test_bad_npz_parts_are_refused(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        io.load(_npz(tmp_path / "bad.npz", **override))


def test_cli_on_the_issues_segfaulting_file_exits_2_with_one_line(tmp_path):
    """Run in a child process: before the fix this file crashed it (rc 139 or 134)."""
    path = _npz(tmp_path / "bad.npz", P_indices=np.array([10**9, 1]))
    out = subprocess.run([sys.executable, "-m", "tabular_pg.cli", "solve", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out
    assert "column indices must lie in [0, 2)" in out.stderr


# ------------------------------------------------------------------- row sums near gamma = 1
def test_issue_example_near_gamma_one_is_refused():
    """1 + 9e-10 passed the flat 1e-9 tolerance and gave J = -1.25e9 for the true 1e10."""
    with pytest.raises(ValueError, match=r"P rows must sum to 1 \(within 1e-12\)"):
        tpg.FiniteMDP([[[1 + 9e-10]]], [[1.0]], [1.0], gamma=1 - 1e-10)
    with pytest.raises(ValueError, match=r"within 1e-12"):
        tpg.FiniteMDP([[[1 + 2e-12]]], [[1.0]], [1.0], gamma=1 - 1e-6)


@pytest.mark.parametrize("gamma, horizon", [(0.5, None), (0.9, None), (0.999, None), (1.0, 50), (0.99, 20)])
def test_accepted_row_error_moves_values_by_at_most_1e9_relative(gamma, horizon):
    """One state, P = 1 + eps with eps just inside the tolerance: J against the closed forms
    sum_t (gamma (1 + eps))^t (what is solved) and sum_t gamma^t (the stochastic MDP)."""
    eps = 0.999 * transition_atol(gamma, horizon)
    mdp = tpg.FiniteMDP([[[1 + eps]]], [[1.0]], [1.0], gamma=gamma, horizon=horizon)
    q, g = gamma * (1 + eps), gamma
    if horizon is None:
        solved, true = 1 / (1 - q), 1 / (1 - g)
    else:
        solved, true = (math.fsum(x**t for t in range(horizon)) for x in (q, g))
    J = tpg.evaluate(mdp, [[1.0]]).J
    assert abs(J - solved) <= 1e-10 * abs(solved)       # the float solve is exact to ~1e-10 relative
    assert abs(J - true) <= 1.01e-9 * abs(true)          # the documented bound on the rows' effect
    with pytest.raises(ValueError, match="P rows must sum to 1"):
        tpg.FiniteMDP([[[1 + 1.1 * transition_atol(gamma, horizon)]]], [[1.0]], [1.0], gamma=gamma, horizon=horizon)


# ----------------------------------------------------------------------------- gamma
@pytest.mark.parametrize("gamma, exc, match", [
    (True, TypeError, "gamma must be a real number"),
    ("0.5", TypeError, "gamma must be a real number"),
    (10**400, ValueError, r"gamma must lie in \[0, 1\]; got an integer of 401 digits"),
    (1.5, ValueError, r"gamma must lie in \[0, 1\]"),
])
def test_gamma_of_the_wrong_kind(gamma, exc, match):
    with pytest.raises(exc, match=match):
        tpg.FiniteMDP([[[1.0]]], [[1.0]], [1.0], gamma=gamma)


def test_numpy_scalar_gammas_are_accepted():
    assert tpg.FiniteMDP([[[1.0]]], [[1.0]], [1.0], gamma=np.float32(0.5)).gamma == 0.5
    assert tpg.FiniteMDP([[[1.0]]], [[1.0]], [1.0], gamma=np.array(0.25)).gamma == 0.25


# ------------------------------------------------------------------------------ files
def test_load_of_a_non_path_is_a_type_error():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        io.load(None)


def test_random_bytes_and_a_renamed_npy(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(ValueError, match=r"not a readable .npz \(zip\) archive") as info:
        io.load(junk)
    assert "pickle" not in str(info.value)
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(ValueError, match="a .npy array, not an .npz archive"):
        io.load(npy)


def _rewrite_member(path, key, transform):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[f"{key}.npy"] = transform(members[f"{key}.npy"])
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_truncated_member_is_reported_as_truncated(tmp_path):
    path = _npz(tmp_path / "t.npz", mu=np.ones(1000) / 1000, R=np.zeros((2, 1)))
    _rewrite_member(path, "mu", lambda b: b[:-100])
    with pytest.raises(ValueError, match=r"field 'mu' is truncated or corrupt: .* 8000 bytes .* holds 7900"):
        io.load(path)


def test_member_declaring_7_tib_is_refused_before_allocation(tmp_path):
    """The header claims shape (2**40,) of float64; nothing that size is allocated."""
    path = _npz(tmp_path / "huge.npz")

    def inflate(b):
        return b.replace(b"'shape': (2,)", b"'shape': (1099511627776,)".ljust(len("'shape': (2,)")), 1)
    def inflate_mu(b):
        head_len = 10 + int.from_bytes(b[8:10], "little")
        header = b[10:head_len].replace(b"(2,)", b"(1099511627776,)")
        header = header.rstrip(b"\n ")
        header = header + b" " * (head_len - 10 - len(header) - 1) + b"\n"
        return b[:8] + len(header).to_bytes(2, "little") + header + b[head_len:]
    _rewrite_member(path, "mu", inflate_mu)
    with pytest.raises(ValueError, match=r"field 'mu' declares shape \(1099511627776,\) .* more than the limit"):
        io.load(path)


def _json_mdp(**changes):
    doc = {"states": 2, "actions": 1, "transitions": [[[0.0, 1.0]], [[0.0, 1.0]]], "rewards": [[1.0], [0.0]],
           "mu": [1.0, 0.0], "gamma": 0.5}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("changes, match", [
    ({"mu": ["1.0", 0.0]}, r"field 'mu' must be a nested array of numbers .*e.g. strings"),
    ({"mu": [True, False]}, r"field 'mu' must be a nested array of numbers"),
    ({"rewards": {"entries": [[0, 0, "1.0"]]}}, r"field 'rewards' must be a nested array of numbers"),
    ({"states": 3}, r"declare 3 states and 1 actions but 'transitions' has 2 states"),
    ({"states": 10**12}, r"field 'states' declares 1000000000000 names, more than the limit"),
    ({"states": 10**5, "actions": 10**5}, r"10000000000 state-action pairs, more than"),
    ({"gamma": 10**400}, r"gamma must lie in \[0, 1\]; got an integer of 401 digits"),
])
def test_json_inputs_silently_accepted_or_crashing_before(tmp_path, changes, match):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_json_mdp(**changes)))
    with pytest.raises(ValueError, match=match):
        io.load(path)


def test_deeply_nested_and_oversized_json(tmp_path, monkeypatch):
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(_json_mdp())[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ValueError, match="JSON nested too deeply"):
        io.load(path)
    monkeypatch.setattr(files, "MAX_JSON_BYTES", 100)      # the 1 GB case without writing 1 GB
    small = tmp_path / "m.json"
    small.write_text(json.dumps(_json_mdp()) + " " * 200)
    with pytest.raises(ValueError, match=r"bytes, more than the 100 a JSON MDP may have"):
        io.load(small)


def test_gymnasium_table_missing_a_state():
    table = {0: {0: [(1.0, 1, 0.0, True)]}}
    env = NS(P=table, observation_space=NS(n=2), action_space=NS(n=1), initial_state_distrib=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"no entry for \(state, action\) \(1, 0\)"):
        io.from_gymnasium(env, gamma=0.9)


def test_an_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    """io.save wrote in place: an interrupted save left a truncated MDP file."""
    path = tmp_path / "m.npz"
    mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=0.5)
    io.save(mdp, path)
    before = path.read_bytes()

    def interrupted(f, **arrays):
        f.write(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save(mdp.with_(gamma=0.25), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.npz"]
