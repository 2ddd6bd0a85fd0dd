"""BLAS runs on one thread inside the library's dense solves (tabular_pg.exact.blas).

With numpy's default multi-threaded OpenBLAS the bits of V, ∇J and the natural gradient
depended on the thread count (8e-16, 3e-11, 1e-10) and dense evaluations at S = 200 stalled
intermittently; the timing is measured in bench/blas_threads.py, never asserted here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import mdps
import tabular_pg as tpg
from tabular_pg.exact.blas import blas_thread_counts, one_blas_thread

ROOT = Path(__file__).resolve().parents[1]


def _evaluations(mdp, pis) -> bytes:
    """The bytes of V, d and J of every policy, evaluated one by one."""
    out = []
    for pi in pis:
        ev = tpg.evaluate(mdp, pi)
        out += [ev.V.tobytes(), ev.d.tobytes(), np.float64(ev.J).tobytes()]
    return b"".join(out)


def test_thousand_dense_evaluations_at_S200_are_bit_identical_to_pinned_ones():
    mdp = mdps.garnet(200, 4, 5, seed=7, gamma=0.99)
    pis = tpg.policies.softmax(np.random.default_rng(7).normal(size=(1000, 200, 4)))
    assert tpg.evaluate(mdp, pis[0]).solver == "dense"
    with threadpool_limits(1):
        pinned = _evaluations(mdp, pis)
    before = blas_thread_counts()
    assert _evaluations(mdp, pis) == pinned                 # the default environment
    with threadpool_limits(2):                              # two threads, whatever the machine has
        assert _evaluations(mdp, pis) == pinned
        in_thread = []                                      # and from a thread other than the main one
        worker = threading.Thread(target=lambda: in_thread.append(_evaluations(mdp, pis[:50])))
        worker.start()
        worker.join(60)
        assert in_thread == [_evaluations(mdp, pis[:50])] and pinned.startswith(in_thread[0])
    assert blas_thread_counts() == before                   # the caller's setting is restored


_CHILD = """
import hashlib, json, sys, numpy as np
sys.path.insert(0, {root!r})
import mdps, tabular_pg as tpg
from tabular_pg.policies import LogLinear
out = {{}}
for S, sparse in ((200, False), (2500, True)):
    mdp = mdps.garnet(S, 4, 5, seed=3, gamma=0.99, sparse=sparse)
    th = np.random.default_rng(0).normal(size=S * 4)
    for name, pol, theta in (("softmax", tpg.TabularSoftmax(S, 4), th),
                             ("loglinear", LogLinear(np.random.default_rng(1).normal(size=(S, 4, 6))), th[:6])):
        ev = tpg.evaluate(mdp, pol.probs(theta))
        arrays = (ev.V, ev.d, tpg.policy_gradient(mdp, pol, theta, evaluation=ev),
                  tpg.natural_gradient(mdp, pol, theta), tpg.natural_gradient(mdp, pol, theta, damping=0.01))
        out[f"{{S}} {{name}} {{ev.solver}}"] = [hashlib.sha256(a.tobytes()).hexdigest() for a in arrays]
print(json.dumps(out))
"""


def _run_with_threads(n: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(n), OMP_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n))
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT))], capture_output=True, text=True,
                         env=env, check=True, timeout=300)
    return json.loads(out.stdout)


def test_results_are_bit_identical_whatever_the_blas_thread_count():
    one, two = _run_with_threads(1), _run_with_threads(2)
    assert set(one) == {"200 softmax dense", "200 loglinear dense", "2500 softmax gmres", "2500 loglinear gmres"}
    assert one == two                 # V, d, ∇J, F^+∇J and (F + λI)^{-1}∇J, byte for byte


def test_pinning_nests_is_shared_by_threads_and_restores_the_setting():
    with threadpool_limits(2):
        assert set(blas_thread_counts()) == {2}
        inside, entered, leave = [], threading.Event(), threading.Event()

        def worker():
            with one_blas_thread():
                entered.set()
                leave.wait(10)
                inside.append(blas_thread_counts())

        with one_blas_thread():
            t = threading.Thread(target=worker)
            t.start()
            entered.wait(10)
            with one_blas_thread():                          # nested in the same thread
                assert set(blas_thread_counts()) == {1}
            assert set(blas_thread_counts()) == {1}
        assert set(blas_thread_counts()) == {1}             # the worker is still inside
        leave.set()
        t.join(10)
        assert set(inside[0]) == {1}
        assert set(blas_thread_counts()) == {2}             # the last to leave restored it


def test_an_exception_inside_still_restores_the_setting():
    with threadpool_limits(2):
        try:
            tpg.evaluate(mdps.garnet(5, 2, 2, seed=0), np.full((5, 3), 1 / 3))
        except ValueError:
            pass
        assert set(blas_thread_counts()) == {2}


def test_warnings_from_pinned_functions_still_name_the_callers_line():
    """The pinning wrapper is one more frame: the stacklevels were raised by one."""
    import warnings

    from tabular_pg.exact.linsolve import ConvergenceWarning
    mdp, pol = mdps.garnet(5, 1, 1, seed=0), tpg.TabularSoftmax(5, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tpg.trust_region_step(mdp, pol, np.zeros(5), 0.1)              # one action: zero gradient
    assert [(w.category, w.filename) for w in caught] == [(ConvergenceWarning, __file__)]
