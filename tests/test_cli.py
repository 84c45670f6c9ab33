"""The `alsim` command line: JSON contracts, file scoring, demo, and bad input (exit 2, one line)."""

import dataclasses
import errno
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

import alsim.cli.main as cli
from alsim.cli.main import main
from alsim.clinical import ALSFRSR
from alsim.clinical.alsfrs import VISIT_ITEM_COLUMNS

ROOT = Path(__file__).resolve().parents[1]

JSON_KEYS = {
    "total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "kings_stage",
    "mitos_stage",
    "delta_fs",
}


@pytest.fixture(autouse=True)
def _plain_80_column_stdout(monkeypatch):
    """Tables as `alsim ... | cat` shows them: 80 columns, no terminal."""
    monkeypatch.setattr(cli, "stdout", Console(highlight=False, width=80))
    monkeypatch.setenv("COLUMNS", "80")


def run(capsys, *argv):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_items_json(capsys):
    code, out, err = run(
        capsys,
        "score",
        "--items",
        "3,4,3,4,4,3,4,3,2,4,4,4",
        "--months-since-onset",
        "12",
        "--json",
    )
    assert code == 0, err
    record = json.loads(out)
    assert JSON_KEYS <= record.keys()
    assert record["total"] == 42
    assert (
        record["bulbar"],
        record["fine_motor"],
        record["gross_motor"],
        record["respiratory"],
    ) == (
        10,
        11,
        9,
        12,
    )
    assert record["kings_stage"] == "2" and isinstance(record["kings_stage"], str)
    assert record["mitos_stage"] == 0 and isinstance(record["mitos_stage"], int)
    assert record["delta_fs"] == pytest.approx(0.5)


def test_score_gastrostomy_reads_item5_as_5b(capsys):
    code, out, _ = run(
        capsys, "score", "--items", "4,4,4,3,3,3,4,3,3,4,4,4", "--gastrostomy", "--json"
    )
    record = json.loads(out)
    assert code == 0
    assert record["kings_stage"] == "4A"
    assert record["total"] == 43
    assert record["delta_fs"] is None


def test_score_table_output(capsys):
    code, out, err = run(
        capsys, "score", "--items", "3,4,3,4,4,3,4,3,2,4,4,4", "--months-since-onset", "12"
    )
    assert code == 0 and err == ""
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("42")]
    # total, domains B/FM/GM/R, King's, MiToS, ΔFS, progression
    assert rows == [["42", "10/11/9/12", "2", "0", "0.50", "intermediate"]]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["score", "--items", "5,4,4,4,4,4,4,4,4,4,4,4"],
            "error: q1_speech (--items position 1): must be an integer 0-4, got 5",
        ),
        (["score", "--items", "4,4,4,4,4,4,4,4,4,4,4"], "expected 12"),
        (
            ["score", "--items", "4,4,4,4,x,4,4,4,4,4,4,4"],
            "error: q5a_cutting_without_gastrostomy (--items position 5): must be an integer 0-4",
        ),
        (
            ["score", "--items", "4,4,4,4,x,4,4,4,4,4,4,4", "--gastrostomy"],
            "error: q5b_cutting_with_gastrostomy (--items position 5): must be",
        ),
        (["score", "--items", "4_0,4,4,4,4,4,4,4,4,4,4,4"], "(--items position 1)"),
        (["score", "--items", "٤,4,4,4,4,4,4,4,4,4,4,4"], "(--items position 1)"),
        (["score", "--items", "+4,4,4,4,4,4,4,4,4,4,4,4"], "(--items position 1)"),
        (["score", "--items", "4,4,4,4,4,4,4,4,4,4,4," + "9" * 400], "(--items position 12)"),
        (
            ["score", "--items", "4,4,4,4,4,4,4,4,4,4,4,3", "--months-since-onset", "1e-320"],
            "error: --months-since-onset: is too small",
        ),
        (
            ["score", "--items", "4,4,4,4,4,4,4,4,4,4,4,4", "--months-since-onset", "nan"],
            "error: --months-since-onset: must be a positive number",
        ),
        (
            ["score", "--items", "4,4,4,4,4,4,4,4,4,4,4,4", "--months-since-onset", "0"],
            "--months-since-onset",
        ),
        (
            ["score", "--items", "4,4,4,4,4,4,4,4,4,4,4,4", "--months-since-onset", "-3"],
            "--months-since-onset",
        ),
        (
            ["score", "--items", "4,4,4,4,4,4,4,4,4,4,4,4", "--months-since-onset", "abc"],
            "--months-since-onset",
        ),
        (["score"], "either --items or a FILE"),
        (["score", "missing-file.csv"], "file not found"),
        (
            [
                "prognosis",
                "--age-onset",
                "60",
                "--diagnostic-delay",
                "0",
                "--fvc",
                "90",
                "--delta-fs",
                "0.5",
            ],
            "error: --diagnostic-delay:",
        ),
        (
            ["prognosis", "--age-onset", "60", "--diagnostic-delay", "12", "--fvc", "90"],
            "--delta-fs",
        ),
        (
            [
                "prognosis",
                "--age-onset",
                "0",
                "--diagnostic-delay",
                "12",
                "--fvc",
                "90",
                "--delta-fs",
                "0.5",
            ],
            "error: --age-onset: must be > 0",
        ),
        (
            [
                "prognosis",
                "--age-onset",
                "60",
                "--diagnostic-delay",
                "12",
                "--fvc",
                "90",
                "--delta-fs",
                "60",
            ],
            "error: --delta-fs: must be",
        ),
        (
            [
                "prognosis",
                "--age-onset",
                "60",
                "--diagnostic-delay",
                "12",
                "--fvc",
                "90",
                "--alsfrs-r-total",
                "49",
            ],
            "error: --alsfrs-r-total: must lie in 0-48",
        ),
        (
            [
                "prognosis",
                "--age-onset",
                "60",
                "--diagnostic-delay",
                "12",
                "--fvc",
                "-5",
                "--delta-fs",
                "0.5",
            ],
            "error: --fvc: must be > 0",
        ),
        (["demo", "--out", ""], "error: --out: must name a directory"),
        (["nonsense-command"], "nonsense-command"),
    ],
)
def test_bad_input_exit_2_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def write_visits(path, rows):
    records = []
    for i, (items, gastrostomy, months) in enumerate(rows):
        record = ALSFRSR.from_items(items, gastrostomy=gastrostomy).to_record()
        del record["gastrostomy"]
        records.append({"subject_id": "P1", "months_since_onset": months, **record, "visit": i})
    pd.DataFrame(records).to_csv(path, index=False)


def test_score_file_json(tmp_path, capsys):
    path = tmp_path / "visits.csv"
    write_visits(
        path, [([4] * 12, False, 6.0), ([3, 4, 3, 4, 4, 3, 4, 3, 2, 4, 4, 4], False, 12.0)]
    )
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["total"] for r in records] == [48, 42]
    assert all(JSON_KEYS <= r.keys() for r in records)
    assert records[1]["delta_fs"] == pytest.approx(0.5)
    assert records[0]["subject_id"] == "P1"


def test_score_file_with_both_5a_and_5b_fails_with_row(tmp_path, capsys):
    path = tmp_path / "visits.csv"
    write_visits(path, [([4] * 12, False, 6.0), ([4] * 12, False, 12.0)])
    frame = pd.read_csv(path)
    frame.loc[1, "q5b_cutting_with_gastrostomy"] = 3
    frame.to_csv(path, index=False)
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 2 and out == ""
    assert err.startswith("error: visits.csv, row 2") and "both 5a and 5b" in err


def test_score_malformed_file(tmp_path, capsys):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\x00\xff\xfe not a csv \x00")
    code, out, err = run(capsys, "score", str(path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "broken.csv" in err


def test_score_proact_fixture(capsys):
    from importlib import resources

    folder = resources.files("alsim.data").joinpath("proact_synthetic")
    alsfrs = next(p for p in folder.iterdir() if "alsfrs" in p.name.lower())
    history = next(p for p in folder.iterdir() if "history" in p.name.lower())
    code, out, err = run(capsys, "score", str(alsfrs), "--history", str(history), "--json")
    assert code == 0, err
    records = json.loads(out)
    assert len(records) > 30
    assert all(0 <= r["total"] <= 48 for r in records)
    assert all(r["delta_fs"] is not None for r in records)


def test_prognosis_json(capsys):
    code, out, err = run(
        capsys,
        "prognosis",
        "--age-onset", "60", "--delta-fs", "0.5", "--diagnostic-delay", "12", "--fvc", "90",
        "--spinal-onset", "--not-definite", "--no-ftd", "--no-c9orf72", "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    # Worked example E1 (clinical-instruments.md §5.1): LP -4.6793, median 38.1 months.
    assert result["linear_predictor"] == pytest.approx(-4.6793, abs=1e-3)
    assert result["median_months"] == pytest.approx(38.1, abs=0.5)
    survival = result["survival_at"]
    assert [float(survival[k]) for k in ("12", "24", "36", "60")] == pytest.approx(
        [0.983, 0.841, 0.550, 0.185], abs=0.005
    )
    assert isinstance(result["risk_group"], str)
    assert "not medical advice" in result["disclaimer"]


def test_prognosis_from_total(capsys):
    code, out, _ = run(
        capsys,
        "prognosis",
        "--age-onset", "60", "--alsfrs-r-total", "42", "--diagnostic-delay", "12", "--fvc", "90", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["linear_predictor"] == pytest.approx(-4.6793, abs=1e-3)


def test_demo_writes_report(tmp_path, capsys):
    code, _out, err = run(capsys, "demo", "--out", str(tmp_path / "demo"))
    assert code == 0, err
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "not medical advice" in html
    assert html.count("<svg") >= 4
    for section in ("ALSFRS-R over time", "Stages over time", "D50", "ENCALS"):
        assert section in html
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["latest"]["total"] == 11
    assert not list((tmp_path / "demo").glob(".*"))  # no temporary files left behind


def test_console_script_has_no_traceback_on_bad_input():
    result = subprocess.run(
        [sys.executable, "-m", "alsim.cli.main", "score", "--items", "4,4,4,4,4,4,4,4,4,4,4,9"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: r3_respiratory_insufficiency (--items position 12): must be an integer 0-4, "
        "got 9"
    )


# -- reviewer findings: one test (or more) per defect ------------------------------------------
TIDY_HEADER = ",".join(["subject_id", "months_since_onset", *VISIT_ITEM_COLUMNS])
ALL_FOURS = "4,4,4,4,4,,4,4,4,4,4,4,4"  # 5a scored, 5b blank


def one_error_line(code, out, err):
    """Exit 2, nothing on stdout, exactly one stderr line starting `error: `; returns it."""
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("as_json", [[], ["--json"]])
def test_header_only_csv_has_no_visit_rows(tmp_path, capsys, as_json):
    path = tmp_path / "h.csv"
    path.write_text(TIDY_HEADER + "\n")
    line = one_error_line(*run(capsys, "score", str(path), *as_json))
    assert line == "error: h.csv: no visit rows"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # More fields than the header: pandas used to turn the first column into the index.
        (
            f"{TIDY_HEADER}\nP1,12,{ALL_FOURS},9\n",
            "error: v.csv, row 1: has 16 fields but the header has 15; every row needs exactly "
            "one value per column",
        ),
        (
            f"{TIDY_HEADER}\nP1,12,{ALL_FOURS}\nP2,12,{ALL_FOURS},\n",
            "error: v.csv, row 2: has 16 fields but the header has 15 (a trailing comma?); "
            "every row needs exactly one value per column",
        ),
        (
            f"{TIDY_HEADER},\nP1,12,{ALL_FOURS},\n",
            "error: v.csv, header: column 16 has no name (a trailing comma?); every column needs "
            "a name",
        ),
        (f"{TIDY_HEADER}\nP1,12,4,4\n", "error: v.csv, row 1: has 4 fields but the header has 15"),
    ],
)
def test_csv_rows_must_match_the_header(tmp_path, capsys, text, expected):
    path = tmp_path / "v.csv"
    path.write_text(text)
    assert one_error_line(*run(capsys, "score", str(path), "--json")).startswith(expected)


def test_dead_column_text_no_is_alive(tmp_path, capsys):
    path = tmp_path / "v.csv"
    rows = [f"P{i},12,{ALL_FOURS},{dead}" for i, dead in enumerate(["no", "0", "False", "", "yes"])]
    path.write_text("\n".join([TIDY_HEADER + ",dead", *rows]) + "\n")
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["mitos_stage"] for r in records] == [0, 0, 0, 0, 5]
    assert [r["kings_stage"] for r in records] == ["0", "0", "0", "0", "5"]


# -- demo --out ---------------------------------------------------------------------------------
def test_demo_out_existing_file_is_one_line_and_untouched(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    line = one_error_line(*run(capsys, "demo", "--out", str(target)))
    assert line.startswith("error: --out: cannot write the report to ")
    assert "not a directory" in line
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_demo_out_below_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    line = one_error_line(*run(capsys, "demo", "--out", str(tmp_path / "file" / "sub")))
    assert line.startswith("error: --out: cannot write the report to ")


def test_demo_failure_leaves_no_folder_behind(tmp_path, capsys, monkeypatch):
    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr("alsim.report.demo.os.rename", full_disk)
    target = tmp_path / "new" / "deeper" / "demo"
    line = one_error_line(*run(capsys, "demo", "--out", str(target)))
    assert line == f"error: --out: cannot write the report to {target} (No space left on device)"
    assert list(tmp_path.iterdir()) == []  # no empty folders, no staging folder


def test_demo_into_existing_folder_replaces_all_three(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    for name in ("report.html", "summary.json", "example_patient_scores.csv", "mine.txt"):
        (out / name).write_text("old")
    code, _, err = run(capsys, "demo", "--out", str(out))
    assert code == 0, err
    assert (out / "mine.txt").read_text() == "old"
    for name in ("report.html", "summary.json", "example_patient_scores.csv"):
        assert (out / name).read_text() != "old"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert oct((out / "report.html").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_demo_failure_in_existing_folder_keeps_old_files(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "report.html").write_text("old")

    def fail(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr("alsim.report.demo.os.replace", fail)
    one_error_line(*run(capsys, "demo", "--out", str(out)))
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    assert (out / "report.html").read_text() == "old"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- onset unknown, row naming -------------------------------------------------------------------
def test_blank_onset_gives_null_delta_fs_and_scores_the_rest(tmp_path, capsys):
    path = tmp_path / "v.csv"
    path.write_text(f"{TIDY_HEADER}\nP1,12,{ALL_FOURS}\nP2,,{ALL_FOURS}\nP3,24,{ALL_FOURS}\n")
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["total"] for r in records] == [48, 48, 48]
    assert [r["delta_fs"] for r in records] == [0.0, None, 0.0]
    assert [r["months_since_onset"] for r in records] == [12.0, None, 24.0]
    assert records[1]["progression"] is None
    assert err == "note: 1 of 3 visits have no known onset (blank onset or time): ΔFS left blank\n"


def test_visit_months_minus_blank_onset_months(tmp_path, capsys):
    path = tmp_path / "v.csv"
    header = TIDY_HEADER.replace("months_since_onset", "visit_months,onset_months")
    path.write_text(f"{header}\nP1,12,0,{ALL_FOURS}\nP2,12,,{ALL_FOURS}\n")
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 0, err
    assert [r["delta_fs"] for r in json.loads(out)] == [0.0, None]


def test_zero_duration_with_known_onset_is_still_an_error(tmp_path, capsys):
    path = tmp_path / "v.csv"
    path.write_text(f"{TIDY_HEADER}\nP1,,{ALL_FOURS}\nP2,0,{ALL_FOURS}\n")
    line = one_error_line(*run(capsys, "score", str(path)))
    assert line.startswith("error: v.csv, row 2 (subject_id P2), months since onset: must be")


def proact_files(tmp_path, *, history_filter=None, extra_alsfrs_row=None, history_columns=None):
    folder = resources.files("alsim.data").joinpath("proact_synthetic")
    alsfrs_text = folder.joinpath("PROACT_ALSFRS.csv").read_text(encoding="utf-8")
    history = pd.read_csv(folder.joinpath("PROACT_ALSHISTORY.csv"), dtype=str)
    if extra_alsfrs_row is not None:
        alsfrs_text = alsfrs_text.rstrip("\n") + "\n" + extra_alsfrs_row + "\n"
    if history_filter is not None:
        history = history[history_filter(history)]
    if history_columns is not None:
        history = history[history_columns]
    alsfrs_path, history_path = tmp_path / "PROACT_ALSFRS.csv", tmp_path / "PROACT_ALSHISTORY.csv"
    alsfrs_path.write_text(alsfrs_text, encoding="utf-8")
    history.to_csv(history_path, index=False)
    return alsfrs_path, history_path


def test_history_missing_a_subject_gives_null_delta_fs(tmp_path, capsys):
    alsfrs, history = proact_files(tmp_path, history_filter=lambda h: h["subject_id"] != "100002")
    code, out, err = run(capsys, "score", str(alsfrs), "--history", str(history), "--json")
    assert code == 0, err
    records = json.loads(out)
    missing = [r for r in records if r["subject_id"] == "100002"]
    assert missing and all(r["delta_fs"] is None for r in missing)
    assert all(r["delta_fs"] is not None for r in records if r["subject_id"] != "100002")


def test_history_without_onset_column_is_rejected_by_name(tmp_path, capsys):
    alsfrs, history = proact_files(tmp_path, history_columns=["subject_id", "Site_of_Onset"])
    line = one_error_line(*run(capsys, "score", str(alsfrs), "--history", str(history)))
    assert (
        line == "error: PROACT_ALSHISTORY.csv, column Onset_Delta: is missing; ΔFS needs the onset"
    )


def test_proact_error_names_subject_and_time_not_a_sorted_row(tmp_path, capsys):
    # A complete visit of subject 100001 at day -700, before its onset (Onset_Delta -608).
    items = "3,3,3,1,1,,2,2,2,1,3,3,3"
    alsfrs, history = proact_files(tmp_path, extra_alsfrs_row=f"100001,-700,{items},,,27,,")
    line = one_error_line(*run(capsys, "score", str(alsfrs), "--history", str(history)))
    # Only the error: the "skipped N visits" note is not printed when scoring fails.
    assert line.startswith(
        "error: PROACT_ALSFRS.csv, subject_id 100001, ALSFRS_Delta -700, months since onset: "
        "must be a positive number of months"
    )
    assert "row" not in line


def test_skipped_visits_note_is_one_plain_line(capsys):
    folder = resources.files("alsim.data").joinpath("proact_synthetic")
    code, out, err = run(
        capsys,
        "score",
        str(folder.joinpath("PROACT_ALSFRS.csv")),
        "--history",
        str(folder.joinpath("PROACT_ALSHISTORY.csv")),
        "--json",
    )
    assert code == 0
    assert err.splitlines() == [
        "note: skipped 38 visits without a complete ALSFRS-R (original 10-item ALSFRS or "
        "unanswered items)"
    ]
    json.loads(out)


# -- table readability ---------------------------------------------------------------------------
def test_table_fits_80_columns_when_piped():
    folder = resources.files("alsim.data").joinpath("proact_synthetic")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [sys.executable, "-m", "alsim.cli.main", "score", str(folder.joinpath("PROACT_ALSFRS.csv")),
         "--history", str(folder.joinpath("PROACT_ALSHISTORY.csv"))],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in result.stdout
    assert not re.search(r"\d\.\d{3}", result.stdout)  # times and ΔFS to 2 decimals
    # One visit per line: subject, visit (mo), since onset (mo), total, domains, ...
    first = next(line.split() for line in lines if line.startswith("100001"))
    assert first == ["100001", "0.00", "19.98", "27", "9/4/5/9", "4B", "0", "1.05", "fast"]


def test_long_subject_id_folds_without_cutting_numbers(tmp_path, capsys):
    path = tmp_path / "v.csv"
    header = TIDY_HEADER.replace("months_since_onset", "visit_date,onset_date")
    path.write_text(f"{header}\nA-VERY-LONG-SUBJECT-ID-0001,2024-02-10,2023-06,{ALL_FOURS}\n")
    code, out, err = run(capsys, "score", str(path))
    assert code == 0, err
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    assert "2024-02-10" in out and " 7.88 " in out and "12/12/12/12" in out and "…" not in out


# -- huge, tiny and odd values -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cells", "fragment"),
    [
        ("4,4,4,4," + "9" * 400 + ",,4,4,4,4,4,4,4", "q5a_cutting_without_gastrostomy: must be"),
        ("4,4,4,4,True,,4,4,4,4,4,4,4", "q5a_cutting_without_gastrostomy: must be an integer"),
        ("4,4,4,4,4_0,,4,4,4,4,4,4,4", "q5a_cutting_without_gastrostomy: must be an integer"),
    ],
)
def test_bad_item_cells_are_one_line(tmp_path, capsys, cells, fragment):
    path = tmp_path / "v.csv"
    path.write_text(f"{TIDY_HEADER}\nP1,12,{cells}\n")
    line = one_error_line(*run(capsys, "score", str(path)))
    assert line.startswith("error: v.csv, row 1 (subject_id P1), ") and fragment in line
    assert len(line) < 200


def test_item_written_n_point_zero_is_accepted_in_files_and_items(tmp_path, capsys):
    path = tmp_path / "v.csv"
    path.write_text(f"{TIDY_HEADER}\nP1,12,3.0,4,4,4,4,,4,4,4,4,4,4,4\n")
    code, out, err = run(capsys, "score", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)[0]["total"] == 47
    code, out, err = run(capsys, "score", "--items", "3.0,4,4,4,4,4,4,4,4,4,4,4", "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == 47


def test_subnormal_duration_in_a_file_is_an_error_not_infinity(tmp_path, capsys):
    path = tmp_path / "v.csv"
    path.write_text(f"{TIDY_HEADER}\nP1,1e-320,4,4,4,4,3,,4,4,4,4,4,4,4\n")
    line = one_error_line(*run(capsys, "score", str(path), "--json"))
    assert "months since onset: is too small" in line


def test_directory_is_not_file_not_found(tmp_path, capsys):
    line = one_error_line(*run(capsys, "score", str(tmp_path)))
    assert line == f"error: {tmp_path}: is a directory, not a file"


# -- prognosis warnings ----------------------------------------------------------------------------
PROGNOSIS_SHORT_DELAY = (
    "prognosis", "--age-onset", "60", "--delta-fs", "0.5", "--diagnostic-delay", "2", "--fvc", "90",
)  # fmt: skip


@pytest.mark.parametrize("as_json", [False, True])
def test_short_delay_warning_is_one_plain_line(capsys, as_json):
    code, out, err = run(capsys, *PROGNOSIS_SHORT_DELAY, *(["--json"] if as_json else []))
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: --diagnostic-delay = 2 < 3")
    if as_json:
        assert json.loads(out)["warnings"] == [lines[0].removeprefix("warning: ")]


def test_no_warning_no_stderr(capsys):
    code, out, err = run(capsys, "prognosis", "--age-onset", "60", "--delta-fs", "0.5",
                         "--diagnostic-delay", "12", "--fvc", "90", "--json")  # fmt: skip
    assert code == 0 and err == ""
    assert json.loads(out)["warnings"] == []


# -- patient report --------------------------------------------------------------------------------
def test_report_handles_unreached_median_and_unconverged_d50(monkeypatch):
    import alsim.report.patient as patient_module
    from alsim.clinical.d50 import D50Fit

    real_prognosis = patient_module.encals_at_diagnosis

    def unreached(patient, scored):
        return dataclasses.replace(real_prognosis(patient, scored), median_months=float("inf"))

    def not_converged(months, totals):
        return D50Fit(30.0, 6.0, 1.0, len(months), False, True, "D50 ended at its upper bound")

    monkeypatch.setattr(patient_module, "encals_at_diagnosis", unreached)
    monkeypatch.setattr(patient_module, "fit_d50", not_converged)
    html, _, summary = patient_module.patient_report(patient_module.load_patient())
    assert "inf months" not in html and "not reached" in html
    assert "did not converge" in html and "D50 ended at its upper bound" in html
    assert summary["d50"]["converged"] is False
    json.dumps(summary, allow_nan=False)


# -- README and packaging --------------------------------------------------------------------------
def readme_examples():
    """(command, expected output lines) for each README console example that shows output."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *output = chunk.rstrip("\n").split("\n")
            if output:
                examples.append((command, output))
    return examples


def test_readme_shows_what_the_cli_prints(capsys):
    examples = readme_examples()
    assert examples
    for command, expected in examples:
        argv = shlex.split(command, comments=True)
        assert argv[0] == "alsim"
        code, out, err = run(capsys, *argv[1:])
        assert code == 0, err
        assert [line.rstrip() for line in out.splitlines()] == expected, command


def test_build_requirement_supports_the_license_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if isinstance(project["project"].get("license"), str):  # PEP 639 needs setuptools >= 77
        requirement = next(r for r in project["build-system"]["requires"] if "setuptools" in r)
        assert int(re.search(r">=\s*(\d+)", requirement).group(1)) >= 77
