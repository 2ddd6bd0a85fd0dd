"""What the ``tabular-pg`` command runs on (internal): MDP arguments, the tour's fixed
two-state MDP, the one seed, and the optional third-party extras.

It imports no other module of :mod:`tabular_pg.cli`; any of them may import it.
"""
from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import numpy as np

import mdps
from tabular_pg import io
from tabular_pg.io.files import from_pymdptoolbox
from tabular_pg.io.interop import toy_text_ids
from tabular_pg.mdp import FiniteMDP

__all__ = ["SEED", "EXTRAS", "POLICIES", "MAX_ZOO_SIZE", "MAX_ZOO_ENTRIES", "has_extra", "resolve_mdp",
           "resolve_policy", "strip_ansi", "zoo_mdp", "dadashi_mdp"]

#: Largest size parameter (S, A, H, n_actions, branching) of a zoo spec, and largest product
#: of them: checked before the MDP is built (``garnet:S=100000000`` ran for minutes).
MAX_ZOO_SIZE = 10**6
MAX_ZOO_ENTRIES = 10**8
_SIZE_PARAMETERS = ("S", "A", "H", "n_actions", "branching", "b")

#: The one seed of the command line: estimator rollouts use ``default_rng(SEED)``, the
#: sampled oracle of run ``k`` ``default_rng([SEED, k])`` and the algorithm's own
#: randomness (PPO minibatches, CEM) ``default_rng(SEED + k)``.
SEED = 20261122

#: Optional third-party extras whose presence the command checks at run time (figures,
#: ``gym:`` MDPs, progress bars); tabular_pg, mdps and proofs are always installed.
EXTRAS = ("matplotlib", "gymnasium", "tqdm")


def has_extra(name: str) -> bool:
    """Whether the optional extra ``name`` (one of :data:`EXTRAS`) imports."""
    if name not in EXTRAS:
        raise ValueError(f"name must be one of the optional extras {EXTRAS}; got {name!r}")
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _named(mdp: FiniteMDP) -> io.NamedMDP:
    return io.NamedMDP(mdp, [str(s) for s in range(mdp.n_states)], [str(a) for a in range(mdp.n_actions)])


#: What an MDP argument can be, for the messages that reject one.
MDP_KINDS = "a zoo spec such as chain:H=10 (tabular-pg zoo lists them), a .json/.npz file, or gym:ENV-ID"


def _looks_like_path(spec: str) -> bool:
    return spec.lower().endswith((".json", ".npz")) or "/" in spec or "\\" in spec or Path(spec).exists()


def resolve_mdp(spec: str) -> io.NamedMDP:
    """The MDP named by a command-line argument: a zoo spec (:func:`mdps.from_spec`),
    ``gym:ID[:k=v,...]`` (the ``gym`` extra) or a ``.json``/``.npz`` file.

    Zoo and gym syntax wins over a file of the same name (a file called ``chain:H=3`` does
    not shadow the spec); name such a file with a folder, ``./chain:H=3.json``.  An argument
    that looks like a path (a ``/``, a ``.json``/``.npz`` suffix, or an existing entry) and is
    a directory or does not exist is reported as such.
    """
    if spec.startswith("gym:"):
        return _gym_mdp(spec[4:])
    if spec.partition(":")[0] in mdps.ZOO:
        _check_zoo_size(spec)
        return _named(mdps.from_spec(spec))
    if _looks_like_path(spec):
        path = Path(spec)
        if path.is_dir():
            raise ValueError(f"MDP argument {spec!r} is a directory, not a .json/.npz file")
        if not path.exists():
            raise ValueError(f"No such file: {spec!r} (an MDP argument is {MDP_KINDS})")
        return io.load_named(spec)
    return _named(mdps.from_spec(spec))


#: ``--policy`` choices besides a policy file, with what each means.
POLICIES = {"uniform": "every action with probability 1/A",
            "optimal": "a deterministic optimal policy (policy iteration)",
            "random": f"a softmax of standard normal logits (seed {SEED})"}


def resolve_policy(choice: str, mdp: FiniteMDP, optimal_pi) -> np.ndarray:
    """The ``(S, A)`` (or ``(H, S, A)``) policy named by ``--policy``: a key of
    :data:`POLICIES` or a policy file (``.npy/.npz/.json/.csv``, :func:`tabular_pg.io.load_policy`);
    ``optimal_pi`` is the optimum's policy (or a callable returning it)."""
    S, A = mdp.n_states, mdp.n_actions
    if choice == "uniform":
        return np.full((S, A), 1.0 / A)
    if choice == "optimal":
        return optimal_pi() if callable(optimal_pi) else optimal_pi
    if choice == "random":
        logits = np.random.default_rng(SEED).standard_normal((S, A))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if not Path(choice).is_file():
        raise ValueError(f"--policy must be one of {', '.join(POLICIES)} or a policy file "
                         f"(.npy/.npz/.json/.csv); {choice!r} is neither"
                         + (" (it is a directory)" if Path(choice).is_dir() else " (no such file)"))
    return io.load_policy(choice, mdp)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (gymnasium colours its messages).

    Examples
    --------
    >>> strip_ansi("\x1b[33mWARN: old\x1b[0m")
    'WARN: old'
    """
    return _ANSI.sub("", text)


def _check_zoo_size(spec: str) -> None:
    _, params = mdps.parse_spec(spec)
    sizes = {k: v for k, v in params.items() if k in _SIZE_PARAMETERS and isinstance(v, int)}
    big = {k: v for k, v in sizes.items() if v > MAX_ZOO_SIZE}
    if big:
        key = next(iter(big))
        raise ValueError(f"{key}={big[key]} in {spec!r} exceeds the limit {MAX_ZOO_SIZE} of a zoo MDP's sizes")
    if int(np.prod(list(sizes.values()), dtype=object) if sizes else 1) > MAX_ZOO_ENTRIES:
        raise ValueError(f"{spec!r}: the product of its sizes exceeds the limit {MAX_ZOO_ENTRIES}")


def _gym_mdp(spec: str) -> io.NamedMDP:
    try:
        import gymnasium
    except ImportError:
        raise ValueError("gym: MDPs need the gym extra (pip install gymnasium)") from None
    env_id, params = mdps.parse_spec(spec)
    gamma, horizon = params.pop("gamma", 0.99), params.pop("horizon", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            env = gymnasium.make(env_id, **params)
        except gymnasium.error.Error as exc:
            raise ValueError(f"gym:{env_id}: {strip_ansi(str(exc))} (toy-text ids of gymnasium "
                             f"{gymnasium.__version__}: {', '.join(toy_text_ids())})") from None
    for w in caught:              # gymnasium's warnings, without colour codes (and shown: not a DeprecationWarning)
        warnings.warn(f"gymnasium: {strip_ansi(str(w.message))}", UserWarning, stacklevel=2)
    return _named(io.from_gymnasium(env, gamma=gamma, horizon=horizon))


def zoo_mdp(spec: str) -> FiniteMDP:
    """The :class:`~tabular_pg.FiniteMDP` of an MDP argument (see :func:`resolve_mdp`)."""
    return resolve_mdp(spec).mdp


def dadashi_mdp() -> FiniteMDP:
    """The two-state, two-action MDP of Dadashi et al. (2019), Figure 2(d), gamma = 0.9."""
    P = np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.99, 0.01], [0.99, 0.01]]])
    return from_pymdptoolbox(P, np.array([[-0.45, -0.1], [0.5, 0.5]]), 0.9)
