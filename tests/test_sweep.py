"""The sweep runner: rows are a function of the grid point alone (bit-identical serially,
on a local Dask cluster and in a shuffled order); the DataFrame's tables round-trip.
(Timeouts, retries and checkpoints: tests/test_reliability_sweep.py.)"""
import json

import distributed
import numpy as np
import pandas as pd
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.sampled.rollout import rollout
from tabular_pg.sweep import grid, point_seed, sweep, write_table


def exact_and_sampled(point, rng):
    """J and ||grad J|| of a random softmax policy on a random MDP, and a REINFORCE estimate.

    S = 200: a dense LU that multi-threaded OpenBLAS would round differently from one
    thread, so the rows are bit-identical only because the runner pins BLAS threads."""
    mdp = random_mdp(np.random.default_rng(point["mdp_seed"]), S=200, A=3, gamma=point["gamma"])
    policy = tpg.TabularSoftmax(200, 3)
    theta = rng.normal(size=600)
    g = tpg.policy_gradient(mdp, policy, theta)
    traj = rollout(mdp, policy.probs(theta), n=point["n"], rng=rng)
    g_hat = tpg.estimators.reinforce(traj, policy, theta, reward_to_go=True)
    return {"J": tpg.evaluate(mdp, policy.probs(theta)).J, "grad_norm": float(np.linalg.norm(g)),
            "sq_error": float(np.sum((g_hat - g) ** 2))}


POINTS = grid(mdp_seed=[0, 1], gamma=[0.5, 0.9], n=[4, 16])


@pytest.fixture(scope="module")
def serial_rows():
    return sweep(exact_and_sampled, POINTS, scheduler="serial", progress=False)


def in_grid_order(rows, order):
    """Rows computed for ``[POINTS[i] for i in order]``, put back into grid order."""
    return rows.iloc[np.argsort(order)].reset_index(drop=True)


def test_rows_carry_the_point_and_the_results_in_grid_order(serial_rows):
    assert isinstance(serial_rows, pd.DataFrame)
    assert list(serial_rows.columns) == ["mdp_seed", "gamma", "n", "J", "grad_norm", "sq_error"]
    assert serial_rows[["mdp_seed", "gamma", "n"]].to_dict("records") == POINTS
    assert np.isfinite(serial_rows.sq_error).all() and (serial_rows.grad_norm > 0).all()
    assert serial_rows.sq_error.nunique() == len(POINTS)                 # distinct streams


def test_shuffled_grid_gives_bit_identical_rows(serial_rows):
    order = np.random.default_rng(3).permutation(len(POINTS))
    shuffled = sweep(exact_and_sampled, [POINTS[i] for i in order], scheduler="serial", progress=False)
    assert in_grid_order(shuffled, order).equals(serial_rows)


@pytest.mark.parametrize("processes", [False, True])
def test_local_cluster_gives_bit_identical_rows(serial_rows, processes):
    """Threads in this process through a Client; two worker processes through the
    scheduler's address (the ``--scheduler ADDRESS`` path)."""
    order = np.random.default_rng(4).permutation(len(POINTS))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        target = cluster.scheduler_address if processes else client
        rows = sweep(exact_and_sampled, [POINTS[i] for i in order], scheduler=target, progress=False)
    assert in_grid_order(rows, order).equals(serial_rows)


def test_seed_depends_on_the_values_not_the_key_order():
    a, b = point_seed({"x": 1, "y": 0.1}), point_seed({"y": 0.1, "x": 1})
    assert a.entropy == b.entropy
    assert point_seed({"x": 1, "y": 0.1 + 1e-16}).entropy != point_seed({"x": 1, "y": 0.2}).entropy
    assert point_seed({"x": 1}).entropy != point_seed({"x": 1.5}).entropy


def test_bad_points_and_functions_are_rejected():
    with pytest.raises(TypeError, match="JSON scalars"):
        sweep(exact_and_sampled, [{"x": [1, 2]}], scheduler="serial")
    with pytest.raises(TypeError, match="must be a dict"):
        sweep(exact_and_sampled, [3], scheduler="serial")
    with pytest.raises(TypeError, match="return a dict"):
        sweep(lambda p, rng: 1.0, [{"x": 1}], scheduler="serial", progress=False)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_tables_round_trip_bit_for_bit(serial_rows, tmp_path, suffix):
    path = write_table(serial_rows, tmp_path / f"rows{suffix}")
    if suffix == ".json":
        assert json.loads(path.read_text()) == serial_rows.to_dict("records")
    else:
        assert pd.read_csv(path).equals(serial_rows)
    assert [p.name for p in tmp_path.iterdir()] == [f"rows{suffix}"]    # no temporary file left


def test_progress_bar_counts_to_the_grid_size(capsys):
    sweep(lambda p, rng: {"u": rng.random()}, grid(x=[1, 2, 3]), scheduler="serial", progress=True)
    assert capsys.readouterr().err.rstrip().endswith("3/3")
