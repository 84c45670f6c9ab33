"""Errors raised on bad input.

Every error that reaches a user names *what* is wrong and *where* (a field, a file column, a CLI
option or a scenario key path), in one line. Interfaces (CLI, web) catch :class:`AlsimError` and
show ``str(err)``; they never show a traceback for it.
"""

from __future__ import annotations


class AlsimError(Exception):
    """Base class of every error alsim raises deliberately."""


class InputError(AlsimError, ValueError):
    """A value supplied by a user (argument, file, form field) is invalid.

    Parameters
    ----------
    where:
        The field, column, option or key path that is wrong, e.g. ``"q5b_cutting_with_gastrostomy"``
        or ``"visits.csv, row 3, q1_speech"``.
    problem:
        What is wrong with it, e.g. ``"must be an integer 0-4, got 5"``.
    """

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")
