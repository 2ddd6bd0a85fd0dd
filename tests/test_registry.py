"""The estimator registry (tabular_pg.sampled.registry.ESTIMATORS) is consistent end to end.

Registers nothing: every existing entry is checked as it stands, so a new entry is checked
the moment it is added.  Per entry and per setting (its CLI settings, or its defaults):

* the options agree with the signatures of the sampled function, its step weights and its
  moment function (names and defaults);
* ``estimate`` runs and its batch mean lies within 5 standard errors of the exact mean of
  ``estimator_moments`` (standard error sqrt(C_ii / n) from the exact covariance, fixed seed);
* the step weights reproduce the sampled estimate exactly (the same arithmetic);
* ``needs_mdp`` says exactly when the estimate fails without the MDP;
* the oracle's gradient for the ``oracle`` entries is the estimate from the same batch
  (an independent summation: a vector-Jacobian product, to 1e-10 relative);
* the CLI's list and the oracle's names are today's.

Unknown names are a ValueError naming the valid ones; unknown options a TypeError naming
the valid ones (TypeError as for any unexpected keyword argument, as pinned by
tests/test_bad_input.py).
"""
import dataclasses
import inspect

import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.algorithms.oracles import SAMPLED_ESTIMATORS, SampledOracle
from tabular_pg.cli import sections
from tabular_pg.sampled.estimators import weighted_scores
from tabular_pg.sampled.registry import ESTIMATORS, REQUIRED, EstimatorSpec, Option, estimate, estimator_moments, lookup
from tabular_pg.sampled.rollout import rollout, sample_visitation

TOL = 1e-4
N = 4000
#: Values of the options that have no default (every REQUIRED option must be listed here).
REQUIRED_VALUES = {"lam": 0.7}
#: Settings checked besides the defaults and the CLI's: a critic that needs no MDP.
MORE_SETTINGS = [{"critic": "monte_carlo"}]


def settings(spec):
    """The entry's defaults (REQUIRED ones from REQUIRED_VALUES), its CLI settings and MORE_SETTINGS."""
    base = {o.name: REQUIRED_VALUES[o.name] for o in spec.options if o.default is REQUIRED}
    more = [opts for opts in MORE_SETTINGS if set(opts) <= set(spec.option_names)]
    unique = {}
    for opts in [base] + [base | dict(options) for _, options in spec.cli] + [base | opts for opts in more]:
        unique.setdefault(tuple(sorted(opts.items())), opts)
    return list(unique.values())


CASES = [(name, opts) for name, spec in ESTIMATORS.items() for opts in settings(spec)]


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(11)
    mdp = random_mdp(rng, S=3, A=2, gamma=0.7)
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    data = {"trajectories": rollout(mdp, pol.probs(th), N, np.random.default_rng(12), tol=TOL),
            "visitation": sample_visitation(mdp, pol.probs(th), N, np.random.default_rng(13))}
    return mdp, pol, th, data


def declared(spec, exact):
    return {o.name: inspect.Parameter.empty if o.default is REQUIRED else o.default
            for o in spec.options if exact or o.sampled}


def signature(f, skip_first, skip=()):
    params = list(inspect.signature(f).parameters.values())[skip_first:]
    return {p.name: p.default for p in params if p.name not in skip}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_options_agree_with_the_signatures(name):
    spec = ESTIMATORS[name]
    assert spec.name == name
    assert signature(spec.sampled, 3, ("mdp", "per_trajectory")) == declared(spec, exact=False)
    if spec.weights is not None:
        assert signature(spec.weights, 3, ("mdp",)) == declared(spec, exact=False)
    if spec.terms is not None:
        assert signature(spec.terms, 4) == declared(spec, exact=True)
    else:
        assert signature(spec.moments, 3, ("tol",) if spec.moments_tol else ()) == declared(spec, exact=True)
    assert all(o.name in REQUIRED_VALUES for o in spec.options if o.default is REQUIRED)


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{sorted(o)}" for n, o in CASES])
def test_every_entry_is_consistent_end_to_end(setup, name, options):
    mdp, pol, th, data = setup
    spec = ESTIMATORS[name]
    x = data[spec.data]
    per = estimate(x, pol, th, name, mdp=mdp, per_trajectory=True, **options)
    mean, cov = estimator_moments(mdp, pol, th, name, tol=TOL, **options)
    assert per.shape == (N, *mean.shape) and cov.shape == (mean.size, mean.size)
    per, mean = per.reshape(N, -1), mean.ravel()
    se = np.sqrt(np.clip(np.diag(cov), 0, None) / N)
    err = np.abs(per.mean(axis=0) - mean)
    assert np.all(err <= 5 * se + 1e-10 * (1 + np.abs(mean))), (err / np.maximum(se, 1e-300)).max()
    batch = estimate(x, pol, th, name, mdp=mdp, **options)
    np.testing.assert_allclose(batch.ravel(), per.mean(axis=0), rtol=1e-10, atol=1e-12)
    if spec.weights is not None:
        W = spec.weights(x, pol, th, mdp=mdp, **spec.bind(options))
        np.testing.assert_array_equal(weighted_scores(x, pol, th, W, per_trajectory=True), per)
    if spec.needs_mdp(spec.bind(options)):
        with pytest.raises(ValueError, match=r"mdp \(a FiniteMDP\) is needed"):
            estimate(x, pol, th, name, **options)
    else:
        np.testing.assert_array_equal(estimate(x, pol, th, name, **options), batch)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_oracle_entries_give_the_oracle_gradient_and_the_others_are_refused(setup, name):
    mdp, pol, th, _ = setup
    spec = ESTIMATORS[name]
    if not spec.oracle:
        with pytest.raises(ValueError, match=r"estimator must be one of \('reinforce', 'gae'\)"):
            SampledOracle(mdp, 10, rng=np.random.default_rng(0), estimator=name)
        return
    ans = SampledOracle(mdp, 300, rng=np.random.default_rng(5), estimator=name).query(pol, th)
    options = {k: v for k, v in ans.options.items() if k in spec.option_names}
    g = estimate(ans.traj, pol, th, name, mdp=mdp, **options)
    np.testing.assert_allclose(ans.gradient, g, rtol=1e-10, atol=1e-12 * np.abs(g).max())


def test_the_oracle_and_cli_lists_are_unchanged():
    assert SAMPLED_ESTIMATORS == ("reinforce", "gae")
    assert sections.ESTIMATORS == (
        ("REINFORCE", "reinforce", {}),
        ("REINFORCE reward-to-go", "reinforce", {"reward_to_go": True}),
        ("rtg - V baseline", "reinforce", {"reward_to_go": True, "baseline": "value"}),
        ("rtg - optimal baseline", "reinforce", {"reward_to_go": True, "baseline": "optimal"}),
        ("exact Q critic", "qvalue", {}),
        ("exact A critic", "qvalue", {"advantage": True}),
        ("GAE(0.9), exact V", "gae", {"lam": 0.9}))
    labels = [label for spec in ESTIMATORS.values() for label, _ in spec.cli]
    assert len(labels) == len(set(labels))


def test_unknown_name_is_a_value_error_naming_the_valid_ones(setup):
    mdp, pol, th, data = setup
    calls = [lambda: estimate(data["trajectories"], pol, th, "reinforse"),
             lambda: estimator_moments(mdp, pol, th, "reinforse"),
             lambda: lookup(None)]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert all(f"'{name}'" in str(info.value) for name in ESTIMATORS), info.value
    with pytest.raises(ValueError, match=r"estimator must be one of \('reinforce', 'gae'\); got 'qvalue'"):
        SampledOracle(mdp, 10, rng=np.random.default_rng(0), estimator="qvalue")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_unknown_option_is_a_type_error_naming_the_valid_ones(setup, name):
    mdp, pol, th, data = setup
    spec = ESTIMATORS[name]
    required = {o.name: REQUIRED_VALUES[o.name] for o in spec.options if o.default is REQUIRED}
    x = data[spec.data]
    for call, exact in ((lambda: estimate(x, pol, th, name, mdp=mdp, bogus=1, **required), False),
                        (lambda: estimator_moments(mdp, pol, th, name, bogus=1, **required), True)):
        with pytest.raises(TypeError, match=f"estimator '{name}' got an unexpected keyword argument 'bogus'") as info:
            call()
        assert f"its options are {list(declared(spec, exact))}" in str(info.value)
    for o in spec.options:
        if not o.sampled:
            with pytest.raises(TypeError, match=f"'{o.name}' is an option of the exact moments only"):
                estimate(x, pol, th, name, mdp=mdp, **{o.name: o.default})
    for o in spec.options:
        if o.default is REQUIRED:
            with pytest.raises(TypeError, match=f"estimator '{name}' needs the option '{o.name}'"):
                estimate(x, pol, th, name, mdp=mdp)


@pytest.mark.parametrize("name, option, value, exc, match", [
    ("reinforce", "reward_to_go", "yes", TypeError, r"reward_to_go must be a bool; got str 'yes'"),
    ("reinforce", "baseline", "nope", ValueError, r"baseline must be None, a number, or one of"),
    ("qvalue", "critic", "x", ValueError, r"critic must be one of \('exact', 'monte_carlo'\); got 'x'"),
    ("visitation", "advantage", 1, TypeError, r"advantage must be a bool; got int 1"),
    ("gae", "lam", 2.0, ValueError, r"lam must lie in \[0, 1\]; got 2.0"),
])
def test_validators_reject_bad_values_before_any_work(name, option, value, exc, match):
    spec = ESTIMATORS[name]
    options = {o.name: REQUIRED_VALUES[o.name] for o in spec.options if o.default is REQUIRED} | {option: value}
    with pytest.raises(exc, match=match):
        estimate(None, None, None, name, **options)        # the data are never looked at
    with pytest.raises(exc, match=match):
        spec.bind(options, exact=True)


def test_registry_is_read_only_and_bad_entries_are_refused():
    spec = ESTIMATORS["reinforce"]
    with pytest.raises(TypeError):
        ESTIMATORS["mine"] = spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.oracle = False
    with pytest.raises(TypeError):
        spec.cli[0][1]["baseline"] = "value"
    fn = spec.sampled
    with pytest.raises(ValueError, match="exactly one of terms and moments"):
        EstimatorSpec("x", fn, terms=spec.terms, moments=fn)
    with pytest.raises(ValueError, match="oracle=True needs weights"):
        EstimatorSpec("x", fn, terms=spec.terms, oracle=True)
    with pytest.raises(ValueError, match="distinct names"):
        EstimatorSpec("x", fn, (Option("a", 1), Option("a", 2)), terms=spec.terms)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lamda'"):
        EstimatorSpec("x", fn, (Option("lam", 0.5),), terms=spec.terms, cli=(("typo", {"lamda": 0.5}),))
