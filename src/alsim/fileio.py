"""Atomic file writing shared by every package that writes outputs.

A file is written to a temporary name in the same folder and renamed over its target, so a
reader never sees a half-written file and an interrupted run leaves the old file intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; use the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_toml_file(path: Path | str) -> dict:
    """Parse a TOML file; unreadable or invalid files raise one InputError naming the file."""
    import tomllib

    from alsim.errors import InputError

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(path), f"cannot read parameter file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"not valid TOML ({exc})") from None


def read_yaml_file(path: Path | str, what: str) -> Any:
    """Parse a YAML file (``None`` if empty); errors are one InputError naming the file.

    ``what`` names the kind of file in the message ("scenario", "sweep", ...). A syntax error
    gives its line and column: ``name.yaml: invalid YAML at line 3, column 2``.
    """
    import yaml

    from alsim.errors import InputError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {what} file ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(path.name, f"invalid YAML{where}") from None
