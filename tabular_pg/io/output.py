"""Output files that are either complete or absent: the one writer of every file tabular-pg makes.

:func:`write_atomically` writes to a temporary name beside the target and renames it
(``os.replace``, atomic on POSIX), so an interrupted or failed write (SIGINT, a full disk,
a read-only folder) leaves the previous file or nothing, never a truncated one.
:func:`check_output_path` refuses, before any work, a target that could not be written:
an empty name, a missing folder (never created), or a directory.  :func:`prepare_folder`
readies an output folder for a rerun: the files the previous run listed in its
:data:`MANIFEST` are removed (so old and new never mix), and a non-empty folder without a
manifest is refused (its files are someone else's).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_output_path", "write_atomically", "prepare_folder", "record_folder", "MANIFEST"]

#: The file listing what tabular-pg wrote into an output folder (what a rerun replaces).
MANIFEST = ".tabular-pg-files"

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def check_output_path(path, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path` whose folder exists and which is not a directory.

    TypeError unless ``path`` is a str or ``os.PathLike``; ValueError for ``''``, a missing
    parent folder (it is not created) or an existing directory.

    Examples
    --------
    >>> check_output_path("")
    Traceback (most recent call last):
    ...
    ValueError: path must name a file; got ''
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}")
    if str(path) == "":
        raise ValueError(f"{name} must name a file; got ''")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a directory, not a file")
    if not path.parent.is_dir():
        raise ValueError(f"{name} {str(path)!r}: the folder {str(path.parent)!r} does not exist (it is not created)")
    return path


def write_atomically(path, write, mode: str = "w") -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``mode`` is ``'w'`` (text) or ``'wb'``; on any exception the temporary file is removed
    and ``path`` is left as it was.  Returns ``path``.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> write_atomically(target, lambda f: f.write("done")).read_text()
    'done'
    """
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_UMASK)           # mkstemp's 0600 would outlive the rename
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def prepare_folder(path, name: str = "--out", reserved=()) -> Path:
    """An output folder that holds nothing from an earlier run; created if missing.

    TypeError unless ``path`` is a str or ``os.PathLike``; ValueError for ``''``, a file,
    a missing parent folder (never created), a ``reserved`` name inside it that is a
    directory (e.g. ``report.md``), or a non-empty folder without a :data:`MANIFEST`.
    The files an earlier run listed in its manifest are deleted; nothing else is.  A new
    manifest is written at once (listing ``reserved``), so that a run interrupted before
    :func:`record_folder` still leaves a folder the next run may reuse.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}")
    if str(path) == "":
        raise ValueError(f"{name} must name a folder; got ''")
    path = Path(path)
    if not path.exists():
        if not path.parent.is_dir():
            raise ValueError(f"{name} {str(path)!r}: the folder {str(path.parent)!r} does not exist")
        path.mkdir()
        record_folder(path, reserved)
        return path
    if not path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a file, not a folder")
    blocked = [r for r in reserved if (path / r).is_dir()]
    if blocked:
        raise ValueError(f"{name} {str(path)!r}: {blocked[0]!r} inside it is a directory; it would be overwritten")
    manifest = path / MANIFEST
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            if line and Path(line).name == line and (path / line).is_file():
                (path / line).unlink()
        manifest.unlink()
    elif any(path.iterdir()):
        raise ValueError(f"{name} {str(path)!r} holds files tabular-pg did not write; give a new or empty folder")
    record_folder(path, reserved)
    return path


def record_folder(path, files) -> None:
    """Write the :data:`MANIFEST` of ``path``: the names of the files this run wrote there."""
    names = sorted({Path(f).name for f in files})
    write_atomically(Path(path) / MANIFEST, lambda f: f.write("".join(n + "\n" for n in names)))
