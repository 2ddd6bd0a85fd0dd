"""Output files that are either complete or absent: the one writer of every file tabular-pg makes.

:func:`write_atomically` writes to a temporary name beside the target and renames it
(``os.replace``, atomic on POSIX), so an interrupted or failed write (SIGINT, a full disk,
a read-only folder) leaves the previous file or nothing, never a truncated one.
:func:`check_output_path` refuses, before any work, a target that could not be written:
an empty name, a missing folder (never created), or a directory.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["check_output_path", "write_atomically"]

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
