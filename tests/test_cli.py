"""The `alsim` command line: JSON contracts, file scoring, demo, and bad input (exit 2, one line)."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from alsim.cli.main import main
from alsim.clinical import ALSFRSR

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
    code, out, _ = run(capsys, "score", "--items", "4,4,4,4,4,4,4,4,4,4,4,4")
    assert code == 0
    assert "48" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["score", "--items", "5,4,4,4,4,4,4,4,4,4,4,4"], "q1_speech: must be an integer 0-4"),
        (["score", "--items", "4,4,4,4,4,4,4,4,4,4,4"], "expected 12"),
        (["score", "--items", "4,4,4,4,x,4,4,4,4,4,4,4"], "item 5"),
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
            "delay",
        ),
        (
            ["prognosis", "--age-onset", "60", "--diagnostic-delay", "12", "--fvc", "90"],
            "--delta-fs",
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
            "fvc",
        ),
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
        == "error: r3_respiratory_insufficiency: must be an integer 0-4, got 9"
    )
