"""The first hour of a new user (issue 20): the README's examples, the command line's help
and errors, and the tour's report.  Each test is a finding that failed before its fix."""
import contextlib
import io as textio
import json
import re
import types
from pathlib import Path

import numpy as np
import pytest
import sympy

import mdps
import tabular_pg as tpg
from tabular_pg.cli import report, sections
from tabular_pg.cli.main import build_parser, main
from tabular_pg.cli.specs import SEED, strip_ansi

README = Path(__file__).resolve().parents[1] / "README.md"
GARNET = "garnet:S=5,A=2,b=2,seed=0,gamma=0.8"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------- README
def test_readme_rational_example_prints_one_729th():
    code = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)[0]
    printed = textio.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert "chain J(uniform) = 1/729\n" in printed.getvalue()


def test_max_denominator_turns_float_policies_into_small_fractions():
    # "Policy Gradient (continued)": the uniform walk on the chain reaches the reward w.p. 3^-H
    small = mdps.chain(H=6)
    floats = np.full((small.n_states, 3), 1 / 3)
    assert tpg.rational.evaluate(small, floats, max_denominator=1000).J == sympy.Rational(1, 3 ** 6)
    assert tpg.rational.evaluate(small, floats).J != sympy.Rational(1, 3 ** 6)   # floats are read exactly


def test_readme_names_only_specs_the_zoo_knows():
    row = next(line for line in README.read_text().splitlines() if line.startswith("| `mdps/`"))
    names = [n for n in re.findall(r"`([a-z_]+)`", row) if n not in ("mdps",)]
    assert "sutton_barto_grid" in names and "russell_norvig_grid" in names
    assert set(names) <= set(mdps.ZOO), set(names) - set(mdps.ZOO)


def test_readme_names_the_current_gym_ids():
    text = README.read_text()
    assert "Taxi-v4" in text and "CliffWalking-v1" in text


# -------------------------------------------------------------------------------- gymnasium
def test_old_gym_ids_give_one_clean_line_naming_the_current_ones(capsys):
    gymnasium = pytest.importorskip("gymnasium")
    from tabular_pg.io.interop import toy_text_ids
    if "Taxi-v4" not in toy_text_ids():
        pytest.skip(f"gymnasium {gymnasium.__version__} still has Taxi-v3")
    code, out, err = run(capsys, "solve", "gym:Taxi-v3")
    assert code == 2 and out == ""
    assert "\x1b" not in err and len(err.strip().splitlines()) == 1
    assert "Taxi-v4" in err and "CliffWalking-v1" in err


def test_gymnasium_warnings_are_shown_without_colour_codes(capsys, monkeypatch):
    gymnasium = pytest.importorskip("gymnasium")
    make = gymnasium.make

    def coloured_make(env_id, **kwargs):
        import warnings
        warnings.warn("\x1b[33mWARN: this id is out of date\x1b[0m", DeprecationWarning, stacklevel=2)
        return make(env_id, **kwargs)

    monkeypatch.setattr(gymnasium, "make", coloured_make)
    code, out, err = run(capsys, "solve", "gym:FrozenLake-v1", "--rows", "1")
    assert code == 0 and "J =" in out
    assert err == "tabular-pg: UserWarning: gymnasium: WARN: this id is out of date\n"


def test_strip_ansi():
    assert strip_ansi("\x1b[33mWARN: x\x1b[0m and \x1b[1;31mred\x1b[0m") == "WARN: x and red"


# ------------------------------------------------------------------------------ help, usage
def _subparsers(parser):
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices


def test_every_option_has_help_and_defaults_are_shown(capsys):
    parser = build_parser()
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "(default: 100)" in out and "(default: 0)" in out      # --iters, --seed
    assert "(default: None)" not in out


def test_error_has_one_prefix_naming_the_subcommand(capsys):
    code, out, err = run(capsys, "train", "chain:H=3", "--algo", "nope")
    assert code == 2 and out == ""
    assert err.startswith("tabular-pg train: error: argument --algo")
    assert err.count("tabular-pg") == 2 and err.rstrip().endswith("(see tabular-pg train --help)")
    assert "error: tabular-pg" not in err and len(err.strip().splitlines()) == 1


def test_bare_command_prints_the_usage(capsys):
    code, out, err = run(capsys)
    assert code == 2 and err.startswith("usage: tabular-pg")
    for command in ("tour", "solve", "estimators", "train", "proofs", "zoo"):
        assert command in err


def test_unknown_policy_lists_the_choices(capsys):
    code, _, err = run(capsys, "solve", "chain:H=3", "--policy", "greedy")
    assert code == 2 and "greedy" in err and all(c in err for c in ("uniform", "optimal", "random", "file"))


def test_missing_file_and_directory_are_reported_as_such(capsys, tmp_path):
    code, _, err = run(capsys, "solve", str(tmp_path / "sub" / "m"))
    assert code == 2 and "No such file" in err and "unknown MDP name" not in err
    code, _, err = run(capsys, "solve", str(tmp_path))
    assert code == 2 and "is a directory" in err and "unknown MDP name" not in err


def test_plot_without_suffix_prints_the_path_written(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, "train", GARNET, "--algo", "pg", "--iters", "3", "--plot", str(tmp_path / "noext"))
    assert code == 0, err
    written = tmp_path / "noext.png"
    assert written.read_bytes()[:4] == b"\x89PNG" and f"learning curve: {written}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noext.png"]          # no temporary file left


# ------------------------------------------------------------------------------- estimators
def test_estimators_print_progress_lines_when_stderr_is_not_a_terminal(capsys):
    code, _, err = run(capsys, "estimators", GARNET, "--n", "5", "--seeds", "2")
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 7 and lines[0].startswith("estimators: 1/7") and lines[-1].startswith("estimators: 7/7")
    code, _, err = run(capsys, "estimators", GARNET, "--n", "5", "--seeds", "2", "--quiet")
    assert code == 0 and err == ""


def softmax_of_normal_logits(S, A):
    """The ``--policy random`` of the CLI, written out: softmax of N(0, 1) logits from SEED."""
    logits = np.random.default_rng(SEED).standard_normal((S, A))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_estimators_policy_separates_the_optimal_baseline_from_V(capsys):
    code, out, err = run(capsys, "estimators", GARNET, "--n", "20", "--seeds", "40", "--policy", "random", "--json")
    assert code == 0, err
    data = json.loads(out)
    rows = {r["estimator"]: r for r in data["rows"]}
    v, opt = rows["rtg - V baseline"]["trace_cov"], rows["rtg - optimal baseline"]["trace_cov"]
    assert abs(v - opt) > 1e-3 * v and data["notes"] == []
    # the gradient is that of the softmax at theta = log pi, computed here independently of the CLI
    mdp = mdps.from_spec(GARNET)
    pi = softmax_of_normal_logits(mdp.n_states, mdp.n_actions)
    g = tpg.policy_gradient(mdp, tpg.TabularSoftmax(mdp.n_states, mdp.n_actions), np.log(pi).ravel())
    assert data["gradient_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-10)
    for row in data["rows"]:                          # unbiased up to the 1e-4 truncation
        assert row["bias"] < 1e-3 * data["gradient_norm"], row


def test_estimators_say_why_rows_coincide_at_the_uniform_policy(capsys):
    code, out, _ = run(capsys, "estimators", "chain:H=4", "--n", "5", "--seeds", "2", "--quiet")
    assert code == 0
    assert "'rtg - V baseline' and 'rtg - optimal baseline' coincide" in out and "--policy random" in out
    assert "'REINFORCE' and 'REINFORCE reward-to-go' coincide" in out     # the chain rewards only its end


def test_proofs_errata_checks_only_the_registered_errata(monkeypatch):
    import proofs
    checked = []

    def fake_check(claim_id):
        checked.append(claim_id)
        return types.SimpleNamespace(holds=False, claim_id=claim_id)

    monkeypatch.setattr(proofs, "check", fake_check)
    monkeypatch.setattr(proofs, "check_all", lambda **kw: pytest.fail("--errata must not check every claim"))
    sections.run_proofs(errata=True)
    assert checked == [c.id for c in proofs.CLAIMS if c.expected != "holds"]
    assert 0 < len(checked) < len(proofs.CLAIMS)


# ------------------------------------------------------------------------------------ report
def test_report_helpers():
    assert report.horizon_text(None, 0.9) == "infinite (γ = 0.9)" and report.horizon_text(7, 1.0) == "7"
    assert report.seconds(2.48459) == "2.48 s" and report.seconds(30.4553) == "30.5 s"
    residue = ("KL = ||mu1 - mu2||^2 / (2 s^2): simplify -> 0; at 3 random rational points -> [0, 0, 0]"
               " | simplify -> Matrix([[0], [0]]); at 3 random rational points -> [(0, 0)]")
    assert report.correction_text(residue) == "KL = ||mu1 - mu2||^2 / (2 s^2)"


def test_real_corrections_lose_their_checker_residue():
    import proofs
    verdict = proofs.check("002.kl-gauss")
    text = report.correction_text(verdict.correction)
    assert "simplify" not in text and "random rational points" not in text and text.startswith("KL(")


@pytest.fixture(scope="module")
def small_tour(tmp_path_factory):
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("tour")
    assert main(["tour", "--small", "--out", str(out), "--quiet", "--json"]) == 0
    return out, (out / "report.md").read_text()


def test_report_explains_the_chain_and_the_horizon(small_tour):
    _, md = small_tour
    assert "P(no sampled trajectory sees the reward)" in md and "not a bug" in md
    assert "| None |" not in md and "infinite (γ = 0.9)" in md
    assert "simplify ->" not in md


def test_report_timings_are_formatted(small_tour):
    _, md = small_tour
    timings = md[md.index("## Timings"):]
    assert re.findall(r"\| \d+\.\d\d? s \|", timings) and not re.search(r"\d\.\d{4}", timings)


def test_every_figure_of_the_report_is_explained(small_tour):
    out, md = small_tour
    lines = [line for line in md.splitlines() if line.strip()]
    images = [i for i, line in enumerate(lines) if line.startswith("![")]
    assert len(images) == len(list(out.glob("*.png"))) == 6
    for i in images:
        follows = lines[i + 1]
        assert not follows.startswith(("![", "#")) and len(follows) > 80, lines[i]
    for block in md.split("\n\n"):                # each key is a paragraph of its own, not glued to an image
        assert not re.search(r"[a-z.]\n!\[", block), block
    assert "arrows are every optimal action" in md and "rows and columns are numbered" in md


# ------------------------------------------------------------ estimators on episodic MDPs: speed
def test_episode_truncation_is_the_first_step_whose_neglected_return_is_below_tol(rng):
    from conftest import episodic_mdp

    from tabular_pg.sampled.rollout import truncation_horizon
    mdp = episodic_mdp(rng, S=6, A=3).with_(gamma=0.99)
    pi = np.full((6, 3), 1 / 3)
    tol = 1e-4
    T = sections.episode_truncation(mdp, pi, tol)
    rmax = np.abs(mdp.R).max()
    # independently: m_t = mass not yet in the terminal state, by matrix powers of the sub-stochastic P_pi
    Q = np.einsum("sa,sat->st", pi, mdp.P)[:-1, :-1]
    m = [mdp.mu[:-1] @ np.linalg.matrix_power(Q, t) for t in (T - 1, T)]
    bound = [rmax * mdp.gamma ** t * mt.sum() / (1 - mdp.gamma) for t, mt in zip((T - 1, T), m)]
    assert bound[1] <= tol < bound[0]
    assert T < truncation_horizon(mdp.gamma, rmax, tol) / 5       # far shorter than gamma^T rmax / (1 - gamma)
    # the truncated J is within tol of J (exact evaluation of both)
    assert abs(tpg.evaluate(mdp.with_(horizon=T), pi).J - tpg.evaluate(mdp, pi).J) <= tol
    assert sections.episode_truncation(mdps.from_spec(GARNET), np.full((5, 2), 0.5)) is None   # no terminal state


def test_estimators_on_an_episodic_mdp_use_the_short_truncation(capsys, rng, tmp_path):
    from conftest import episodic_mdp
    mdp = episodic_mdp(rng, S=5, A=2).with_(gamma=0.99)
    tpg.io.save(mdp, tmp_path / "episodic.json")
    code, out, err = run(capsys, "estimators", str(tmp_path / "episodic.json"), "--n", "50", "--seeds", "40", "--json")
    assert code == 0, err
    data = json.loads(out)
    T = sections.episode_truncation(mdp, np.full((5, 2), 0.5))
    assert data["truncation_steps"] == T
    text = run(capsys, "estimators", str(tmp_path / "episodic.json"), "--n", "5", "--seeds", "2", "--quiet")[1]
    assert f"truncation 0.0001 after {T} steps" in text
    # every estimator is unbiased for grad J_T, the gradient of the T-step truncation, so its bias
    # against grad J is |grad J_T - grad J|: both by backward recursion / linear solve, not by moments
    policy = tpg.TabularSoftmax(5, 2)
    g = tpg.policy_gradient(mdp, policy, policy.initial())
    g_T = tpg.policy_gradient(mdp.with_(horizon=T), policy, policy.initial())
    assert 0 < np.linalg.norm(g_T - g) <= 1e-3 * np.linalg.norm(g)
    for row in data["rows"]:
        assert row["bias"] == pytest.approx(np.linalg.norm(g_T - g), abs=1e-12 * np.linalg.norm(g)), row
