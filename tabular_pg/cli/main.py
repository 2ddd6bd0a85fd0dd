"""The ``tabular-pg`` command: solve, compare estimators, train, check proofs, tour.

``main(argv)`` parses the arguments, runs one subcommand and returns the exit code:
0 on success, 2 on a bad argument or file, or a missing optional extra (a one-line
message on stderr, never a traceback); 141 (as if killed by SIGPIPE, silently) when the
reader of stdout goes away (``| head -1``).

Limits, checked before anything is allocated: ``--n`` <= 10^6 and ``--n`` x ``--seeds``
<= 10^7, ``--seeds`` <= 10^4, ``--sampled`` <= 10^6, ``--iters`` <= 10^6; zoo size
parameters <= 10^6 (product <= 10^8); files as in :mod:`tabular_pg.io.files` (JSON <= 256
MiB, arrays <= 8 GiB, <= 10^7 states, <= 10^8 state-action pairs); evaluations as in
:func:`tabular_pg.exact.evaluate`.  MDP arguments are zoo specs (``chain:H=10``, ``garnet:S=50,A=4,b=3,seed=0``),
``.json`` / ``.npz`` files (:mod:`tabular_pg.io`) or ``gym:ENV-ID[:gamma=..,kwarg=..]``
(with the ``gym`` extra).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from tabular_pg._version import __version__
from tabular_pg.algorithms.guarantees import GUARANTEES
from tabular_pg.cli import commands
from tabular_pg.cli.format import emit_json
from tabular_pg.cli.specs import POLICIES
from tabular_pg.cli.train import ALGORITHMS
from tabular_pg.io.output import check_output_path

PROG = "tabular-pg"
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13

MDP_HELP = ("a zoo spec such as chain:H=10 or garnet:S=50,A=4,b=3,seed=0, a .json/.npz file, "
            "or gym:FrozenLake-v1[:gamma=0.99,is_slippery=False]")


POLICY_HELP = ("the policy: " + "; ".join(f"{k} ({v})" for k, v in POLICIES.items())
               + "; or a policy file (.npy/.npz/.json/.csv) of shape (S, A) or (H, S, A)")


class UsageError(ValueError):
    """A bad command line (argparse's complaint), reported on one line with exit code 2;
    ``prog`` is the (sub)command it is about, e.g. ``tabular-pg train``."""

    def __init__(self, message: str, prog: str = PROG):
        super().__init__(message)
        self.prog = prog


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option that has a default worth showing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse with help that shows the defaults, and errors raised as :class:`UsageError`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)", prog=self.prog)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tabular-pg`` and its subcommands."""
    parser = _Parser(prog=PROG, description="Exact and sampled policy-gradient quantities on finite MDPs.")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or progress lines")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND",
                                help="one of the commands below (tabular-pg COMMAND --help for its options)")

    tour = sub.add_parser("tour", help="the guided tour: exact quantities, estimators, algorithms, proofs")
    tour.add_argument("--out", default="tabular-pg-tour", help="directory for report.md and figures")
    tour.add_argument("--small", action="store_true", help="a tiny, fast setting (for tests)")
    _common(tour)

    solve = sub.add_parser("solve", help="V, Q, A, d, J, gradient norm and residual of a policy")
    solve.add_argument("mdp", help=MDP_HELP)
    solve.add_argument("--policy", default="uniform", help=POLICY_HELP)
    solve.add_argument("--rows", type=int, default=20, help="states shown in the text tables")
    _common(solve)

    est = sub.add_parser("estimators", help="sampled gradient estimators against the exact gradient")
    est.add_argument("mdp", help=MDP_HELP)
    est.add_argument("--n", type=int, default=100, help="trajectories per estimate")
    est.add_argument("--seeds", type=int, default=20, help="independent estimates per estimator")
    est.add_argument("--policy", default="uniform", help=POLICY_HELP + "; the softmax is taken at theta = log pi")
    _common(est)

    train = sub.add_parser("train", help="run a policy-search algorithm, exact J of every iterate")
    train.add_argument("mdp", help=MDP_HELP)
    train.add_argument("--algo", required=True, choices=list(ALGORITHMS),
                       help="the algorithm, with its class defaults: pg (policy gradient), npg (natural PG), "
                       "cpi (conservative policy iteration), ppo, cem (cross-entropy method)")
    train.add_argument("--iters", type=int, default=100, help="iterations (updates of the policy)")
    train.add_argument("--sampled", type=int, default=None, metavar="N",
                       help="use a sampled oracle with N trajectories per call (default: exact oracle)")
    train.add_argument("--seed", type=int, default=0, help="seed of the sampled oracle and of CEM")
    train.add_argument("--step", default=None, help="the main step parameter: pg step, npg KL radius delta, "
                       "cpi alpha (number, bound or line_search), ppo step, cem initial std (default: the class's own)")
    train.add_argument("--plot", default=None, metavar="FILE", help="write the learning curve to FILE (.png)")
    _common(train)

    proofs = sub.add_parser("proofs", help="the sympy checks of the lecture derivations (exit 1 if a "
                            "verdict is not the registered one)")
    proofs.add_argument("--errata", action="store_true", help="check only the claims registered as errata "
                        "(with --claim: show only those of the given claims that do not hold)")
    proofs.add_argument("--claim", action="append", metavar="ID", help="check only this claim (repeatable)")
    _common(proofs)

    theorems = sub.add_parser("theorems", help="published convergence guarantees checked on exact runs (exit 1 "
                              "if an iterate violates one)")
    theorems.add_argument("--mdp", action="append", metavar="MDP", help=MDP_HELP + " (repeatable; default: the zoo)")
    theorems.add_argument("--guarantee", action="append", choices=list(GUARANTEES), help="repeatable; default: all")
    theorems.add_argument("--iters", type=int, default=50, help="iterations of every run")
    theorems.add_argument("--iterates", action="store_true", help="print the measured value and bound of every iterate")
    theorems.add_argument("--scale", type=float, default=1.0, help="make every bound stricter by this factor "
                          "(e.g. 0.1: the constant divided by 10, to see the check fail); "
                          "default 1, the published bounds")
    _common(theorems)

    zoo = sub.add_parser("zoo", help="list the MDPs of the zoo with their parameters")
    _common(zoo)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bar or progress lines")


#: Largest value of each count option (see the module docstring), and of ``--n`` x ``--seeds``.
LIMITS = {"n": 10**6, "seeds": 10**4, "iters": 10**6, "sampled": 10**6, "rows": 10**6}
MAX_TRAJECTORIES = 10**7


def _positive(args, *names) -> None:
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be a positive integer; got {value}")
        if value is not None and value > LIMITS[name]:
            raise UsageError(f"--{name} must be at most {LIMITS[name]}; got {value}")
    n, seeds = getattr(args, "n", None), getattr(args, "seeds", None)
    if n is not None and seeds is not None and n * seeds > MAX_TRAJECTORIES:
        raise UsageError(f"--n x --seeds must be at most {MAX_TRAJECTORIES} trajectories; got {n} x {seeds}")


def run(args) -> dict:
    """Run the subcommand of parsed ``args``; return its result (printed as text or JSON)."""
    _positive(args, "n", "seeds", "iters", "sampled", "rows")
    if getattr(args, "scale", 1.0) <= 0:
        raise UsageError(f"--scale must be a positive number; got {args.scale}")
    if getattr(args, "plot", None) is not None:
        check_output_path(args.plot, "--plot")
    return commands.COMMANDS[args.command](args)


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: {category.__name__}: {message}", file=file or sys.stderr)


def main(argv=None) -> int:
    """Entry point of the ``tabular-pg`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:                    # bare tabular-pg: the usage and the commands
            print(parser.format_help(), file=sys.stderr, end="")
            return EXIT_USAGE
        args.progress = not args.quiet and sys.stderr.isatty()
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            result = run(args)
    except (ValueError, TypeError, OSError, ImportError, ArithmeticError, RecursionError, MemoryError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, (ArithmeticError, RecursionError, MemoryError)):
            message = f"{type(exc).__name__}: {message}"
        print(f"{getattr(exc, 'prog', PROG)}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:                       # --help and --version
        return int(exc.code or 0)
    try:
        if args.json:
            emit_json(result["data"])
        else:
            print(result["text"])
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return int(result.get("status", 0))


def _reader_gone() -> int:
    """stdout's reader closed the pipe (``| head -1``): stop quietly, exit status 141 like
    a process killed by SIGPIPE; stdout is pointed at /dev/null so that the interpreter's
    final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE

