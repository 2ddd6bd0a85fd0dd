"""MDP files (JSON, ``.npz``) and interop with gymnasium and pymdptoolbox.

JSON schema
-----------
A JSON MDP file holds one object with these fields::

    {
      "states":      ["s0", "s1", ...]   or the count S      (required)
      "actions":     ["left", "right"]   or the count A      (required)
      "transitions": nested (S, A, S) array, P[s][a][s'] = P(s'|s,a)
                     or {"entries": [[s, a, s', p], ...]}     (required)
      "rewards":     nested (S, A) r(s,a) or (S, A, S) r(s,a,s'),
                     or {"entries": [[s, a, r], ...]} or {"entries": [[s, a, s', r], ...]}
                                                              (required)
      "mu":          [S numbers], the start distribution     (required)
      "gamma":       number in [0, 1]                         (required)
      "horizon":     positive integer, or null for an infinite horizon (optional)
      "mask":        nested (S, A) booleans, true = feasible action (optional)
      "format":      "tabular-pg/mdp", "version": 1          (optional, written by save)
    }

In the entry lists ``s``, ``a`` and ``s'`` are indices or names from ``states`` /
``actions``; unlisted entries are 0 and repeated entries add up.  Entry-form transitions
load as a sparse ``(S*A, S)`` CSR matrix, nested ones as a dense ``(S, A, S)`` array, and
:func:`save` writes each storage in its own form, so a round trip keeps it.

``.npz`` files hold ``mu``, ``gamma``, ``horizon`` (0 for none), optionally ``states``,
``actions`` (unicode arrays) and ``mask`` (bool ``(S, A)``), and ``P`` / ``R`` either dense or as CSR components
``P_data, P_indices, P_indptr, P_shape`` (likewise ``R_*`` for a sparse ``(S*A, S)``
reward).  They are read with ``allow_pickle=False``: a file holding object arrays is
refused, never unpickled.  Sparse parts are checked completely (integer shape and
indices, indices in range, ``indptr`` consistent) before any use; duplicate entries add up.

Malformed files raise ``ValueError`` naming the file and the field at fault; a wrong type of
``path`` is a ``TypeError``.

Limits (checked before anything is allocated): a JSON file of at most
:data:`MAX_JSON_BYTES` (parsing takes several times its size in memory), nested no deeper
than Python's recursion limit; an ``.npz`` member declaring at most :data:`MAX_ARRAY_BYTES`
(read from the member's header, and it must match the bytes stored); at most
:data:`MAX_STATES` states and :data:`MAX_STATE_ACTIONS` state-action pairs.  Numbers must
be JSON numbers (a numeric string such as ``"0.5"`` is refused, as are booleans); ``.npz``
scalars must be numeric arrays.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import NamedTuple
from zipfile import BadZipFile

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import as_float_array, check_csr
from tabular_pg.exact.evaluation import check_policy
from tabular_pg.io.interop import from_gymnasium, from_pymdptoolbox, to_gymnasium, to_pymdptoolbox
from tabular_pg.io.output import write_atomically
from tabular_pg.mdp import FiniteMDP

__all__ = ["NamedMDP", "load", "load_named", "save", "load_policy", "from_gymnasium",
           "to_gymnasium", "from_pymdptoolbox", "to_pymdptoolbox"]

FORMAT = "tabular-pg/mdp"
VERSION = 1
REQUIRED = ("states", "actions", "transitions", "rewards", "mu", "gamma")
#: Largest JSON file read (bytes): json and numpy take ~6 times the file size in memory.
MAX_JSON_BYTES = 256 * 2**20
#: Largest array an ``.npz`` member may declare (bytes).
MAX_ARRAY_BYTES = 8 * 2**30
#: Most states, and most state-action pairs, of an MDP read from a file.
MAX_STATES = 10**7
MAX_STATE_ACTIONS = 10**8


class NamedMDP(NamedTuple):
    """An MDP with the names of its states and actions (lists of str)."""

    mdp: FiniteMDP
    states: list
    actions: list


def _suffix(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a .json or .npz file; got {type(path).__name__}")
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".npz"):
        raise ValueError(f"path must end in .json or .npz; got {str(path)!r}")
    return suffix


def load(path) -> FiniteMDP:
    """Read an MDP from a ``.json`` or ``.npz`` file (see the module docstring).

    Examples
    --------
    >>> import tempfile, os
    >>> P = np.zeros((2, 1, 2)); P[:, 0, 1] = 1
    >>> mdp = FiniteMDP(P, np.array([[1.], [0.]]), np.array([1., 0.]), gamma=0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), "two.json")
    >>> save(mdp, path, states=["start", "end"])
    >>> back = load(path)
    >>> bool(np.array_equal(back.P, mdp.P)), load_named(path).states
    (True, ['start', 'end'])
    """
    return load_named(path).mdp


def load_named(path) -> NamedMDP:
    """Like :func:`load`, with the state and action names (``'0', '1', ...`` when unnamed)."""
    if _suffix(path) == ".json":
        return _load_json(path)
    return _load_npz(path)


def save(mdp: FiniteMDP, path, states=None, actions=None) -> None:
    """Write ``mdp`` to a ``.json`` or ``.npz`` file, keeping dense/sparse storage (through a
    temporary file and a rename: never a half-written file; the folder must exist)."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    states = _check_names("states", states, mdp.n_states)
    actions = _check_names("actions", actions, mdp.n_actions)
    if _suffix(path) == ".json":
        write_atomically(path, lambda f: f.write(json.dumps(_to_json(mdp, states, actions))))
    else:
        write_atomically(path, lambda f: np.savez_compressed(f, **_to_npz(mdp, states, actions)), mode="wb")


def _check_names(field: str, names, n: int) -> list:
    if names is None:
        return [str(i) for i in range(n)]
    names = list(names)
    if len(names) != n or not all(isinstance(x, str) for x in names) or len(set(names)) != n:
        raise ValueError(f"{field} must be {n} distinct strings; got {names!r:.200}")
    return names


# ---------------------------------------------------------------------------------- JSON
def _to_json(mdp: FiniteMDP, states: list, actions: list) -> dict:
    R = mdp.R if mdp.R_full is None else mdp.R_full
    return {"format": FORMAT, "version": VERSION, "states": states, "actions": actions,
            "transitions": {"entries": _entries(mdp.P, mdp.n_actions)} if mdp.is_sparse else mdp.P.tolist(),
            "rewards": {"entries": _entries(R, mdp.n_actions)} if sp.issparse(R) else np.asarray(R).tolist(),
            "mu": mdp.mu.tolist(), "gamma": mdp.gamma, "horizon": mdp.horizon,
            **({} if mdp.mask is None else {"mask": mdp.mask.tolist()})}


def _entries(M, n_actions: int) -> list:
    """``[[s, a, s', value], ...]`` of a CSR ``(S*A, S)`` matrix."""
    coo = sp.coo_matrix(M)
    s, a = np.divmod(coo.row, n_actions)
    return [[int(i), int(j), int(k), float(v)] for i, j, k, v in zip(s, a, coo.col, coo.data)]


def _read_json_text(path) -> str:
    size = Path(path).stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than the {MAX_JSON_BYTES} a JSON MDP may have "
                         "(save large MDPs as .npz)")
    return Path(path).read_text()


def _load_json(path) -> NamedMDP:
    try:
        doc = json.loads(_read_json_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (truncated or malformed): {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply (an MDP file needs 4 levels)") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: the top level must be a JSON object; got {type(doc).__name__}")
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        raise ValueError(f"{path}: field {missing[0]!r} is missing (required: {', '.join(REQUIRED)})")
    try:
        return _build_json(doc)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _build_json(doc: dict) -> NamedMDP:
    states, actions = _names("states", doc["states"], MAX_STATES), _names("actions", doc["actions"], MAX_STATES)
    S, A = len(states), len(actions)
    if S * A > MAX_STATE_ACTIONS:
        raise ValueError(f"{S} states x {A} actions = {S * A} state-action pairs, more than the "
                         f"{MAX_STATE_ACTIONS} a file may declare")
    index = ({n: i for i, n in enumerate(states)}, {n: i for i, n in enumerate(actions)})
    P = _table("transitions", doc["transitions"], S, A, index, (3,))
    R = _table("rewards", doc["rewards"], S, A, index, (2, 3))
    mu = _numbers("mu", doc["mu"], 1)
    gamma, horizon = doc["gamma"], doc.get("horizon")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise ValueError(f"field 'gamma' must be a number in [0, 1]; got {gamma!r}")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int)):
        raise ValueError(f"field 'horizon' must be a positive integer or null; got {horizon!r}")
    mask = doc.get("mask")
    mdp = FiniteMDP(P, R, mu, gamma=gamma, horizon=horizon, mask=None if mask is None else np.asarray(mask))
    if (mdp.n_states, mdp.n_actions) != (S, A):
        raise ValueError(f"fields 'states' and 'actions' declare {S} states and {A} actions but 'transitions' "
                         f"has {mdp.n_states} states and {mdp.n_actions} actions")
    return NamedMDP(mdp, states, actions)


def _names(field: str, value, limit: int) -> list:
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        raise ValueError(f"field {field!r} declares {value} names, more than the limit {limit}")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return [str(i) for i in range(value)]
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        if len(set(value)) != len(value):
            raise ValueError(f"field {field!r} has repeated names")
        return list(value)
    raise ValueError(f"field {field!r} must be a positive count or a non-empty list of names; got {value!r:.80}")


def _numbers(field: str, value, ndim: int | None) -> np.ndarray:
    """A float array of JSON numbers: strings (even numeric ones), booleans and nulls are refused."""
    try:
        arr = np.array(value)
    except (TypeError, ValueError):
        arr = np.array([], dtype=object)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"field {field!r} must be a nested array of numbers (ragged or non-numeric "
                         f"entries found{', e.g. strings' if arr.dtype.kind == 'U' else ''})")
    arr = arr.astype(float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"field {field!r} must be a {ndim}-dimensional array; got {arr.ndim} dimensions")
    return arr


def _table(field: str, value, S: int, A: int, index, nested_ndims):
    """A nested array, or ``{"entries": [[s, a, (s',) x], ...]}`` turned into a matrix."""
    if not isinstance(value, dict):
        arr = _numbers(field, value, None)
        if arr.ndim not in nested_ndims:
            raise ValueError(f"field {field!r} must be a nested array with "
                             f"{' or '.join(map(str, nested_ndims))} dimensions; got {arr.ndim}")
        return arr
    entries = value.get("entries")
    widths = (4,) if field == "transitions" else (3, 4)
    lengths = {len(e) if isinstance(e, list) else -1 for e in entries} if isinstance(entries, list) else set()
    if not isinstance(entries, list) or len(lengths) != 1 or lengths.pop() not in widths:
        raise ValueError(f"field {field!r} must be a nested array or {{\"entries\": [...]}} with every entry "
                         f"a list [s, a, s', x]{'' if field == 'transitions' else ' (or every entry [s, a, x])'}")
    return _entry_matrix(field, entries, S, A, index)


def _entry_matrix(field: str, entries: list, S: int, A: int, index):
    cols = list(zip(*entries))
    s = _indices(field, "s", cols[0], index[0], S)
    a = _indices(field, "a", cols[1], index[1], A)
    x = _numbers(field, cols[-1], 1)
    if len(cols) == 3:
        out = np.zeros((S, A))
        np.add.at(out, (s, a), x)
        return out
    s2 = _indices(field, "s'", cols[2], index[0], S)
    return sp.csr_matrix((x, (s * A + a, s2)), shape=(S * A, S))


def _indices(field: str, role: str, column, names: dict, n: int) -> np.ndarray:
    out = np.empty(len(column), dtype=int)
    for k, v in enumerate(column):
        i = names.get(v, -1) if isinstance(v, str) else v
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"field {field!r} entry {k}: {role} = {v!r} is not a name or an index in [0, {n})")
        out[k] = i
    return out


# ----------------------------------------------------------------------------------- npz
def _to_npz(mdp: FiniteMDP, states: list, actions: list) -> dict:
    out = {"format_version": np.array(VERSION), "mu": mdp.mu, "gamma": np.array(mdp.gamma),
           "horizon": np.array(mdp.horizon or 0), "states": np.array(states, dtype=str),
           "actions": np.array(actions, dtype=str), **({} if mdp.mask is None else {"mask": mdp.mask})}
    R = mdp.R if mdp.R_full is None else mdp.R_full
    for name, M in (("P", mdp.P), ("R", R)):
        if sp.issparse(M):
            M = sp.csr_matrix(M)
            out.update({f"{name}_data": M.data, f"{name}_indices": M.indices,
                        f"{name}_indptr": M.indptr, f"{name}_shape": np.array(M.shape)})
        else:
            out[name] = np.asarray(M)
    return out


def _load_npz(path) -> NamedMDP:
    _check_npz_archive(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            fields = {k: _npz_field(z, k) for k in z.files}
    except (BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    try:
        return _build_npz(fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _check_npz_archive(path) -> None:
    """ValueError unless ``path`` is a zip of sound ``.npy`` members, read from the headers alone.

    Every member's header must declare a plain numeric or string dtype (object arrays would
    be unpickled) and at most :data:`MAX_ARRAY_BYTES`, and exactly as many bytes as the
    member stores (a truncated member is reported as such): nothing is allocated before.
    """
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(6)
        kind = "a .npy array, not an .npz archive" if head == b"\x93NUMPY" else "not a readable .npz (zip) archive"
        raise ValueError(f"{path}: {kind}")
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    _check_npy_header(info.filename, member, info.file_size)
    except (BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _check_npy_header(name: str, member, stored: int) -> None:
    key = name[:-4] if name.endswith(".npy") else name
    try:
        version = np.lib.format.read_magic(member)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(member)
    except (ValueError, EOFError) as exc:
        raise ValueError(f"field {key!r} is not a readable .npy member ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"field {key!r} holds an object array, which is never unpickled (allow_pickle=False)")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > MAX_ARRAY_BYTES:
        raise ValueError(f"field {key!r} declares shape {shape} of {dtype} = {declared} bytes, more than the "
                         f"limit of {MAX_ARRAY_BYTES} bytes")
    if declared != stored - member.tell():
        raise ValueError(f"field {key!r} is truncated or corrupt: its header declares {declared} bytes of data, "
                         f"the archive holds {stored - member.tell()}")


def _npz_field(z, key: str) -> np.ndarray:
    try:
        return z[key]
    except ValueError:
        raise ValueError(f"field {key!r} holds an object array, which is never unpickled "
                         "(allow_pickle=False)") from None


def _npz_matrix(fields: dict, name: str):
    if name in fields:
        return fields[name]
    parts = [f"{name}_{k}" for k in ("data", "indices", "indptr", "shape")]
    if not all(p in fields for p in parts):
        raise ValueError(f"field {name!r} is missing (neither dense {name!r} nor all of {parts})")
    data, indices, indptr, shape = (fields[p] for p in parts)
    indices, indptr, shape = check_csr(f"field {name!r} (sparse)", data, indices, indptr, shape)
    return sp.csr_matrix((as_float_array(f"{name}_data", data), indices, indptr), shape=shape)


def _build_npz(fields: dict) -> NamedMDP:
    for key in ("mu", "gamma", "horizon"):
        if key not in fields:
            raise ValueError(f"field {key!r} is missing")
    horizon, gamma = fields["horizon"], fields["gamma"]
    if horizon.shape != () or horizon.dtype.kind not in "iu":
        raise ValueError(f"field 'horizon' must be a scalar integer (0 for none); got {horizon!r}")
    if gamma.shape != () or gamma.dtype.kind not in "iuf":
        raise ValueError(f"field 'gamma' must be a numeric scalar in [0, 1]; got {gamma!r:.80}")
    mdp = FiniteMDP(_npz_matrix(fields, "P"), _npz_matrix(fields, "R"), fields["mu"],
                    gamma=float(gamma), horizon=int(horizon) or None, mask=fields.get("mask"))
    states = [str(x) for x in fields["states"]] if "states" in fields else None
    actions = [str(x) for x in fields["actions"]] if "actions" in fields else None
    return NamedMDP(mdp, _check_names("states", states, mdp.n_states),
                    _check_names("actions", actions, mdp.n_actions))


def load_policy(path, mdp: FiniteMDP) -> np.ndarray:
    """A policy ``pi (S, A)`` (or ``(H, S, A)``) from ``.npy``, ``.npz`` (key ``pi``),
    ``.json`` (an array, or an object with field ``pi``) or text (``.csv``/``.txt``)."""
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".json":
            doc = json.loads(Path(path).read_text())
            pi = doc["pi"] if isinstance(doc, dict) else doc
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                pi = z["pi"]
        elif suffix == ".npy":
            pi = np.load(path, allow_pickle=False)
        else:
            pi = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
        return check_policy(mdp, np.array(pi, dtype=float), name=f"policy file {path}")
    except KeyError:
        raise ValueError(f"{path}: field 'pi' is missing") from None
    except (json.JSONDecodeError, BadZipFile, TypeError) as exc:
        raise ValueError(f"{path}: not a readable policy file ({exc})") from None
