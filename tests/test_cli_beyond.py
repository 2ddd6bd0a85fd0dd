"""The tour's "beyond the lectures" stories state facts that the tests check independently."""
import numpy as np
import pytest

import tabular_pg as tpg
from mdps import garnet
from tabular_pg.cli import beyond

MDP = garnet(8, 3, 3, seed=0, gamma=0.9)


def test_the_soft_optimum_approaches_J_star_within_the_entropy_bound():
    story = beyond.entropy_story(MDP)
    J_star = tpg.optimum(MDP).J
    gaps = [row["gap"] for row in story["rows"]]
    for row in story["rows"]:
        assert row["J_tau_star"] >= J_star - 1e-10                    # the soft optimum counts entropy on top
        assert -1e-10 <= row["gap"] <= row["bound"]                   # tau log A / (1 - gamma)
        assert row["J"] == pytest.approx(J_star - row["gap"], abs=1e-12)
    assert gaps == sorted(gaps, reverse=True)                          # smaller tau, smaller gap


def test_the_hessian_at_the_uniform_policy_is_indefinite():
    story = beyond.hessian_story(MDP)
    policy = tpg.TabularSoftmax(8, 3)
    lam = np.linalg.eigvalsh(tpg.hessian(MDP, policy, policy.initial()))
    assert story["min"] == pytest.approx(lam[0], rel=1e-12) and story["max"] == pytest.approx(lam[-1], rel=1e-12)
    assert story["positive"] > 0 and story["negative"] > 0             # J is not concave in theta
    assert story["positive"] + story["negative"] <= story["d"] - 8     # each state's logit shift is a zero


def test_importance_sampling_variance_grows_with_the_horizon():
    rows = beyond.off_policy_story(MDP, horizons=(2, 4, 8))["rows"]
    for kind in ("per-decision", "whole trajectory"):
        ratios = [row[kind] / row["on-policy"] for row in rows]
        assert ratios == sorted(ratios) and ratios[-1] > ratios[0]     # the blow-up over on-policy grows with H


def test_no_guarantee_is_violated_and_every_one_is_checked():
    rows = beyond.guarantees_story(MDP, iterations=10)["rows"]
    assert {row["name"] for row in rows} == set(tpg.algorithms.guarantees.GUARANTEES)
    assert all(row["violations"] == 0 and row["iterates"] > 0 for row in rows)


def test_algorithms_story_reports_what_each_run_reached():
    story = beyond.algorithms_story(MDP, iterations=60)
    J_star = tpg.optimum(MDP).J
    for row in story["rows"]:
        assert row["final_gap"] >= -1e-10 * abs(J_star)                # never above the optimum
        if row["iterations"] is not None:
            assert row["final_gap"] <= story["gap"] * max(1.0, abs(J_star)) and row["iterations"] <= 60
    assert any(row["iterations"] is not None for row in story["rows"])
