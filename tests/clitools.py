"""Shared helpers for the command-line tests: run ``alsim`` in-process and check its errors."""

from alsim.cli.main import main


def run(capsys, *argv):
    """Run ``alsim *argv``; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code, stdout, err, fragment):
    """Exit 2, nothing on stdout, and exactly one ``error: ...`` line containing ``fragment``."""
    assert code == 2, err
    assert stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
