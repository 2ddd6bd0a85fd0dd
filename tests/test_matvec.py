"""Threaded row-block products (tabular_pg.exact.matvec) and the solves that use them.

Forward products must be bit-identical to scipy's; transposed ones agree to 1e-14 relative
(a different order of the same additions) and do not depend on the number of threads.
"""
import multiprocessing
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_pg as tpg
from tabular_pg.exact import matvec
from tabular_pg.exact.matvec import RowBlocks


@pytest.fixture
def threads(monkeypatch):
    def set_threads(n: int):
        monkeypatch.setenv("TABULAR_PG_NUM_THREADS", str(n))
    return set_threads


@pytest.mark.parametrize("shape,density", [((300, 200), 0.05), ((1, 50), 0.5), ((40, 40), 0.0), ((7, 3), 1.0)])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_products_match_scipy(shape, density, n_threads, threads):
    threads(n_threads)
    P = sp.random(*shape, density=density, format="csr", random_state=1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=shape[1]), rng.normal(size=shape[0])
    B = RowBlocks(P, parallel=True)
    assert np.array_equal(B @ x, P @ x)                      # bit-identical: same row sums
    ref = P.T @ y
    scale = max(np.abs(P).T @ np.abs(y)) if P.nnz else 1.0
    assert np.abs(B.rmatvec(y) - ref).max() <= 1e-14 * scale  # same terms, added in another order


def test_transposed_product_does_not_depend_on_threads(threads):
    P = sp.random(500, 500, density=0.02, format="csr", random_state=2)
    y = np.random.default_rng(3).normal(size=500)
    B = RowBlocks(P, parallel=True)
    outs = []
    for n in (1, 2, 5):
        threads(n)
        outs.append(B.rmatvec(y))
    assert all(np.array_equal(outs[0], o) for o in outs[1:])


def test_small_matrices_are_multiplied_whole():
    P = sp.random(100, 100, density=0.05, format="csr", random_state=4)
    assert not RowBlocks(P).parallel and P.nnz < matvec.PARALLEL_MIN_NNZ
    y = np.arange(100.0)
    assert np.array_equal(RowBlocks(P).rmatvec(y), P.T @ y)


def test_blocks_are_views_not_copies():
    P = sp.random(200, 200, density=0.05, format="csr", random_state=5)
    B = RowBlocks(P, parallel=True)
    for _, _, view in B._blocks(2):
        assert np.shares_memory(view.data, P.data) and np.shares_memory(view.indices, P.indices)


def _product_sum(P) -> float:
    return float((RowBlocks(P, parallel=True) @ np.ones(P.shape[1])).sum())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_products_work_in_a_forked_child_after_the_pool_started(threads):
    """A child forked after the thread pool started has none of its threads; it must start
    its own pool rather than wait on the parent's (which would hang)."""
    threads(2)
    P = sp.random(400, 300, density=0.05, format="csr", random_state=6)
    expected = _product_sum(P)                       # starts the pool in this process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_product_sum, (P,)).get(timeout=60) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_bad_thread_count_is_a_value_error(value, monkeypatch):
    monkeypatch.setenv("TABULAR_PG_NUM_THREADS", value)
    with pytest.raises(ValueError, match="TABULAR_PG_NUM_THREADS"):
        matvec.num_threads()


def test_evaluate_on_threads_is_exact_and_deterministic(threads, monkeypatch):
    """The Krylov path with every product threaded: V and d agree with a dense solve to 1e-10
    relative, and are bit-identical on one thread and on two."""
    monkeypatch.setattr(matvec, "PARALLEL_MIN_NNZ", 0)
    mdp = mdps.garnet(1500, 4, 5, seed=7, gamma=0.99, sparse=True)
    pi = tpg.policies.softmax(np.random.default_rng(8).normal(size=(1500, 4)))
    runs = []
    for n in (1, 2):
        threads(n)
        runs.append(tpg.evaluate(mdp, pi))
    assert runs[0].solver == "gmres"
    assert np.array_equal(runs[0].V, runs[1].V) and np.array_equal(runs[0].d, runs[1].d)
    M = np.eye(1500) - 0.99 * tpg.exact.transition_matrix(mdp, pi).toarray()
    V = np.linalg.solve(M, (pi * mdp.R).sum(axis=1))
    d = (1 - 0.99) * np.linalg.solve(M.T, mdp.mu)
    assert np.abs(runs[0].V - V).max() <= 1e-10 * np.abs(V).max()
    assert np.abs(runs[0].d - d).max() <= 1e-10 * np.abs(d).max()
