"""The ``--out DIR`` of commands that write a few named files (`alsim experiment`, `alsim reproduce`).

A folder may be new, or one that holds only the command's own files (a rerun replaces them); never
a file, the working directory or one of its parents. A new folder appears complete (written
beside it, then renamed); in an existing one each file is replaced atomically. Errors are one
:class:`~alsim.errors.InputError` naming ``--out``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from alsim.errors import InputError


def check_out_folder(out: str, own_files: Collection[str]) -> Path:
    """The folder ``out``, refused before any work if it cannot receive ``own_files``."""
    if not out.strip():
        raise InputError("--out", "must name a directory, got an empty path")
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise InputError("--out", f"{target} exists and is not a directory")
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError("--out", f"{target} is the working directory or contains it")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if p.name not in own_files)
        if others:
            raise InputError(
                "--out",
                f"{target} contains other files ({others[0]}, ...); name an empty or new folder",
            )
    return target


def write_out_folder(target: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (name -> text) into ``target``; an OSError becomes one ``--out`` error."""
    from alsim.fileio import current_umask, write_text_atomic

    try:
        if target.exists():
            for name, text in files.items():
                write_text_atomic(target / name, text)
            return
        parent = target.absolute().parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
        try:
            os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp creates 0700
            for name, text in files.items():
                (staging / name).write_text(text, encoding="utf-8")
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except OSError as exc:
        raise InputError("--out", f"cannot write to {target} ({exc.strerror or exc})") from None
