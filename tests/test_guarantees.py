"""The published guarantees hold on exact runs on every zoo MDP, and the check can fail.

Each bound is the theorem's (tabular_pg.algorithms.guarantees cites them); its constants
are computed exactly on the run, and a bound made stricter than published must be
reported violated.
"""
import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms.guarantees import GUARANTEES, GuaranteeViolated, check_guarantee, theorem_setting
from tabular_pg.cli.main import main

ZOO = list(mdps.ZOO)


@pytest.mark.parametrize("name", list(GUARANTEES))
@pytest.mark.parametrize("spec", ZOO)
def test_every_guarantee_holds_on_every_zoo_mdp(name, spec):
    check = check_guarantee(name, mdps.from_spec(spec), iterations=30)     # raises GuaranteeViolated otherwise
    claimed = ~np.isnan(check.bound)
    assert claimed.sum() == 30 and check.violations.size == 0


@pytest.mark.parametrize("name, spec", [("entropy_npg", "chain"), ("pmd_increasing", "garnet"), ("cpi", "garnet"),
                                        ("pmd_increasing", "bandit"), ("cpi", "sutton_barto_grid")])
def test_a_bound_with_its_constant_divided_by_10_is_reported_violated(name, spec):
    with pytest.raises(GuaranteeViolated, match=name):
        check_guarantee(name, mdps.from_spec(spec), iterations=30, scale=0.1)


@pytest.mark.parametrize("name", list(GUARANTEES))
def test_every_check_fails_once_the_bound_is_stricter_than_the_run(name):
    # the loose bounds (Mei et al.: 1e-11 of the bound is used) fail only when made that strict
    mdp = mdps.garnet(8, 3, 2, seed=1, gamma=0.9)
    tight = check_guarantee(name, mdp, iterations=20).tightness
    scale = tight / 2 if GUARANTEES[name].sense == "<=" else 0.1
    with pytest.raises(GuaranteeViolated):
        check_guarantee(name, mdp, iterations=20, scale=scale)


def test_constants_on_the_bandit_are_the_exact_ones():
    # one state: d* / mu = 1, vartheta = 1 / (1 - gamma), D0 = KL(e_best || uniform) = log 3;
    # softmax PG raises the best arm's probability monotonically, so c_T = pi_0(best) = 1/3
    bandit = mdps.bandit([0.2, 0.5, 0.9])
    pg = check_guarantee("softmax_pg", bandit, iterations=10)
    assert pg.constants["c_T"] == pytest.approx(1 / 3, rel=1e-15) and pg.constants["mismatch"] == pytest.approx(1.0)
    pmd = check_guarantee("pmd_increasing", bandit, iterations=10)
    assert pmd.constants["vartheta"] == pytest.approx(10.0, rel=1e-14)
    assert pmd.constants["D0"] == pytest.approx(np.log(3), rel=1e-14)


def test_theorem_setting_maps_rewards_onto_the_unit_interval_and_preserves_gaps():
    mdp = mdps.sutton_barto_grid()                          # gamma = 0.9, rewards -1 .. 10
    setting = theorem_setting(mdp)
    assert setting.R.min() == 0 and setting.R.max() == 1 and np.allclose(setting.mu, 1 / mdp.n_states)
    pi = np.full((mdp.n_states, mdp.n_actions), 1 / mdp.n_actions)
    uniform_start = mdp.with_(mu=setting.mu)
    gap = tpg.optimum(uniform_start).J - tpg.evaluate(uniform_start, pi).J
    gap01 = tpg.optimum(setting).J - tpg.evaluate(setting, pi).J
    assert gap01 == pytest.approx(gap / (mdp.R.max() - mdp.R.min()), rel=1e-12)
    assert theorem_setting(mdps.chain(H=4)).gamma == 0.9 and theorem_setting(mdps.chain(H=4)).horizon is None


def test_bad_guarantee_arguments():
    mdp = mdps.garnet(4, 2, 2, seed=0)
    with pytest.raises(ValueError, match="guarantee must be one of"):
        check_guarantee("nope", mdp)
    with pytest.raises(ValueError, match="iterations"):
        check_guarantee("npg", mdp, iterations=0)
    with pytest.raises(ValueError, match="scale"):
        check_guarantee("npg", mdp, scale=-1.0)


def test_cli_theorems_prints_the_table_and_exits_1_on_a_violation(capsys):
    assert main(["theorems", "--mdp", "garnet:S=5,A=2,b=2,seed=0", "--iters", "5", "--iterates"]) == 0
    out = capsys.readouterr().out
    assert out.count("holds") == len(GUARANTEES) and "Thm 5.3" in out
    argv = ["theorems", "--mdp", "chain:H=4", "--guarantee", "entropy_npg", "--iters", "10", "--scale", "0.1"]
    assert main(argv) == 1
    assert "VIOLATED: entropy_npg on chain:H=4" in capsys.readouterr().out
