"""Batched exact evaluation equals per-policy `evaluate` (to 1e-12 relative)."""
import numpy as np
import pytest
from conftest import episodic_mdp, random_mdp, random_policy
from hypothesis import given, settings
from hypothesis import strategies as st

import tabular_pg as tpg
from tabular_pg.exact import batch
from tabular_pg.exact.batch import evaluate_batch

FIELDS = ("V", "Q", "A", "d", "d_sa", "visits")


def assert_matches_loop(mdp, pis, rtol=1e-12):
    out = evaluate_batch(mdp, pis)
    for b, pi in enumerate(pis):
        ev = tpg.evaluate(mdp, pi)
        for name in FIELDS:
            ref = getattr(ev, name)
            np.testing.assert_allclose(getattr(out, name)[b], ref, rtol=rtol,
                                       atol=rtol * np.abs(ref).max(), err_msg=name)
        assert abs(out.J[b] - ev.J) <= rtol * max(1.0, abs(ev.J))
    assert out.residual.shape == (len(pis),) and (out.residual < 1e-12).all()
    return out


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.99])
def test_discounted_batch_equals_loop(rng, sparse, gamma):
    mdp = random_mdp(rng, S=9, A=3, gamma=gamma, sparse=sparse)
    pis = np.stack([random_policy(rng, 9, 3, temperature=t) for t in (0.1, 1, 3, 10, 30)])
    out = assert_matches_loop(mdp, pis)
    assert out.solver == "batched-lu"


@pytest.mark.parametrize("per_step", [False, True])
def test_finite_horizon_batch_equals_loop(rng, per_step):
    mdp = random_mdp(rng, S=6, A=2, gamma=0.9, horizon=5, sparse=True)
    pis = np.stack([random_policy(rng, 6, 2, H=5 if per_step else None) for _ in range(4)])
    assert assert_matches_loop(mdp, pis).solver == "recursion"


def test_episodic_and_large_state_spaces_fall_back_to_the_loop(rng, monkeypatch):
    mdp = episodic_mdp(rng, S=6, A=3)
    pis = np.stack([random_policy(rng, 6, 3) for _ in range(3)])
    assert assert_matches_loop(mdp, pis).solver == "per-policy"
    monkeypatch.setattr(batch, "STACKED_LU_MAX", 4)
    mdp = random_mdp(rng, S=7, A=2, gamma=0.95, sparse=True)
    assert assert_matches_loop(mdp, np.stack([random_policy(rng, 7, 2) for _ in range(3)])).solver == "per-policy"


def test_chunks_give_the_same_numbers(rng, monkeypatch):
    mdp = random_mdp(rng, S=8, A=3, gamma=0.9)
    pis = np.stack([random_policy(rng, 8, 3) for _ in range(7)])
    whole = evaluate_batch(mdp, pis)
    monkeypatch.setattr(batch, "CHUNK_BYTES", 3 * 8 * 8 * 8 * 2)       # two policies a chunk
    assert len(batch._chunks(7, 8, stacks=3)) == 4
    parts = evaluate_batch(mdp, pis)
    for name in FIELDS + ("J",):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))


def test_value_polytope_of_a_two_state_mdp_has_the_deterministic_vertices(rng):
    """Dadashi et al. (2019): the values of all policies lie in the polytope whose vertices
    include the values of the deterministic policies; each V is one of them at the corners."""
    mdp = random_mdp(rng, S=2, A=2, gamma=0.9)
    grid = np.linspace(0, 1, 11)
    p, q = (x.ravel() for x in np.meshgrid(grid, grid, indexing="ij"))
    pis = np.stack([np.stack([p, 1 - p], -1), np.stack([q, 1 - q], -1)], axis=1)   # (121, 2, 2)
    out = evaluate_batch(mdp, pis)
    corners = out.V.reshape(11, 11, 2)[[0, 0, -1, -1], [0, -1, 0, -1]]
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    assert ((out.V >= lo - 1e-12) & (out.V <= hi + 1e-12)).all()


def test_results_are_read_only(rng):
    mdp = random_mdp(rng, S=4, A=2)
    out = evaluate_batch(mdp, np.stack([random_policy(rng, 4, 2)]))
    with pytest.raises(ValueError):
        out.V[0, 0] = 1.0


@pytest.mark.parametrize("pis, error, match", [
    (np.full((2, 4, 3), 0.5), ValueError, "shape"),
    (np.full((0, 4, 2), 0.5), ValueError, "B >= 1"),
    (np.full((2, 4, 2), 0.7), ValueError, "sum to 1"),
    (np.array([[[1.5, -0.5]] * 4]), ValueError, "non-negative"),
    ("uniform", TypeError, "real array"),
])
def test_bad_batches_are_rejected(rng, pis, error, match):
    with pytest.raises(error, match=match):
        evaluate_batch(random_mdp(rng, S=4, A=2), pis)


@settings(max_examples=25, deadline=None)
@given(S=st.integers(1, 6), A=st.integers(1, 3), B=st.integers(1, 4), gamma=st.floats(0, 0.98),
       seed=st.integers(0, 2**32 - 1))
def test_generated_batches_equal_the_loop(S, A, B, gamma, seed):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, S=S, A=A, gamma=gamma)
    assert_matches_loop(mdp, np.stack([random_policy(rng, S, A) for _ in range(B)]), rtol=1e-11)
