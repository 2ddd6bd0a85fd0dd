"""The CLI builds every algorithm from its class defaults plus only ``--step``."""
import dataclasses

import pytest

from tabular_pg.cli.train import ALGORITHMS, make_algorithm, parse_step

STEPS = {"pg": 0.5, "npg": 0.01, "cpi": "line_search", "ppo": 0.3, "cem": 2.0}


def declared_default(cls, name):
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return None if field.default is dataclasses.MISSING else field.default


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_defaults_come_from_the_class(name):
    choice = ALGORITHMS[name]
    algo = make_algorithm(name)
    assert type(algo) is choice.cls
    # the class built with no argument, but for the main parameter where the class has no default
    reference = choice.cls() if choice.fallback is None else choice.cls(**{choice.parameter: choice.fallback})
    for field in dataclasses.fields(choice.cls):
        assert getattr(algo, field.name) == getattr(reference, field.name), field.name
    if choice.fallback is not None:
        assert declared_default(choice.cls, choice.parameter) is None


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_step_sets_only_the_main_parameter(name):
    choice = ALGORITHMS[name]
    algo = make_algorithm(name, STEPS[name])
    assert getattr(algo, choice.parameter) == STEPS[name]
    for field in dataclasses.fields(choice.cls):
        if field.name != choice.parameter:
            assert getattr(algo, field.name) == declared_default(choice.cls, field.name), field.name


def test_bad_algorithm_and_step():
    with pytest.raises(ValueError, match="algo must be one of"):
        make_algorithm("sgd")
    with pytest.raises(ValueError, match="--step must be a number"):
        parse_step("fast")
    assert parse_step("2") == 2.0 and parse_step("bound") == "bound"
