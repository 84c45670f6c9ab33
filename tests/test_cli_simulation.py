"""`alsim cohort`, `alsim trace` and `alsim calibrate` from the command line."""

import json

import pandas as pd
import pytest

from alsim.cli.main import main


def run(capsys, *argv):
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cohort_writes_tables_and_manifest(tmp_path, capsys):
    out = tmp_path / "cohort"
    code, _stdout, err = run(
        capsys, "cohort", "--n", "300", "--seed", "4", "--out", str(out), "--horizon-months", "36"
    )
    assert code == 0, err
    patients = pd.read_parquet(out / "patients.parquet")
    visits = pd.read_parquet(out / "visits.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(patients) == 300 and manifest["rows"]["visits"] == len(visits)
    expected = {
        "subject_id", "sex", "ancestry", "genotype", "onset_region", "age_onset_years",
        "t_diagnosis_months", "t_gastrostomy_months", "t_niv_months", "t_death_months", "horizon_months",
    }  # fmt: skip
    assert expected <= set(patients.columns)
    assert {"t_months", "alsfrs_r_total", "fvc_percent", "nfl_pg_ml"} <= set(visits.columns)
    assert manifest["seed"] == 4 and manifest["horizon_months"] == 36
    # Same seed, same cohort.
    again = tmp_path / "again"
    run(
        capsys,
        "cohort",
        "--n",
        "300",
        "--seed",
        "4",
        "--out",
        str(again),
        "--horizon-months",
        "36",
        "--workers",
        "2",
    )
    pd.testing.assert_frame_equal(patients, pd.read_parquet(again / "patients.parquet"))


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--n", "0"], "--n: must be a positive integer"),
        (["--n", "10", "--seed", "-2"], "--seed"),
        (["--n", "10", "--ancestry", "martian"], "--ancestry"),
        (["--n", "10", "--genotype", "XYZ"], "--genotype"),
        (["--n", "10", "--format", "xlsx"], "--format"),
        (["--n", "10", "--workers", "0"], "--workers"),
    ],
)
def test_cohort_bad_flags_exit_2_and_write_nothing(tmp_path, capsys, argv, fragment):
    out = tmp_path / "c"
    code, stdout, err = run(capsys, "cohort", *argv, "--out", str(out))
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert not out.exists()


def test_cohort_bad_parameter_file_names_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    from importlib import resources

    text = resources.files("alsim.params").joinpath("mechanistic.toml").read_text()
    bad.write_text(text.replace("hazard_log_sd = ", "hazard_log_sd = -", 1))
    code, _, err = run(
        capsys, "cohort", "--n", "10", "--out", str(tmp_path / "c"), "--params", str(bad)
    )
    assert code == 2
    assert "bad.toml: neurons.hazard_log_sd" in err


def test_trace_writes_csv_and_html(tmp_path, capsys):
    code, _, err = run(
        capsys, "trace", "3", "--n", "50", "--out", str(tmp_path / "t"), "--horizon-months", "24"
    )
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "t" / "trace.csv")
    assert "misfolding_lmn_bulbar" in frame.columns and "neurons_umn_lower_limb" in frame.columns
    assert "<svg" in (tmp_path / "t" / "trace.html").read_text()


def test_trace_index_out_of_range(tmp_path, capsys):
    code, _, err = run(capsys, "trace", "50", "--n", "50", "--out", str(tmp_path / "t"))
    assert code == 2 and "index" in err


def test_calibrate_evaluate_only_writes_report(tmp_path, capsys):
    out = tmp_path / "cal"
    code, stdout, err = run(
        capsys,
        "calibrate",
        "--out",
        str(out),
        "--n",
        "400",
        "--max-evaluations",
        "0",
        "--confirm-n",
        "400",
    )
    assert code == 0, err
    results = pd.read_csv(out / "calibration-results.csv")
    assert {"id", "value", "tolerance", "simulated", "passed", "source"} <= set(results.columns)
    assert "Hard targets passed" in stdout
    html = (out / "calibration-report.html").read_text()
    assert html.count("<svg") >= 5
    from alsim.disease.mechanistic.params import load_params

    # Evaluating an already fitted set keeps its fit record (and so its digest) unchanged.
    written = load_params(out / "mechanistic-calibrated.toml")
    assert written.calibration == load_params().calibration
    assert written.digest() == load_params().digest()


def test_calibrate_bad_targets_file(tmp_path, capsys):
    bad = tmp_path / "t.yaml"
    bad.write_text("version: 1\ntargets:\n  - id: x\n    statistic: no_such_statistic\n")
    code, _, err = run(
        capsys,
        "calibrate",
        "--out",
        str(tmp_path / "o"),
        "--targets",
        str(bad),
        "--max-evaluations",
        "0",
    )
    assert code == 2 and "targets[0]" in err
    assert not (tmp_path / "o").exists()


def test_trace_matches_the_cohort_written_with_default_flags(tmp_path, capsys):
    out = tmp_path / "c"
    code, _, err = run(
        capsys,
        "cohort",
        "--n",
        "80",
        "--seed",
        "9",
        "--out",
        str(out),
        "--format",
        "csv",
        "--horizon-months",
        "24",
    )
    assert code == 0, err
    code, _, err = run(
        capsys,
        "trace",
        "7",
        "--n",
        "80",
        "--seed",
        "9",
        "--out",
        str(tmp_path / "t"),
        "--horizon-months",
        "24",
    )
    assert code == 0, err
    visits = pd.read_csv(out / "visits.csv")
    mine = visits[visits["subject_id"] == "VP0000007"].set_index("t_months")["alsfrs_r_total"]
    trace = pd.read_csv(tmp_path / "t" / "trace.csv").set_index("t_months")["alsfrs_r_total"]
    pd.testing.assert_series_equal(mine, trace.loc[mine.index], check_dtype=False)


def test_calibration_fit_does_not_depend_on_workers():
    """The Jacobian's columns evaluated in 2 processes give exactly the serial fit (same seeds)."""
    from alsim.cohort.calibrate import CalibrationCohorts, calibrate
    from alsim.disease.mechanistic.params import load_params

    setup = CalibrationCohorts(n_population=150, n_east_asian=60, n_sod1=60, n_c9orf72=60)
    free = {"neurons.hazard_median": (0.005, 0.5)}
    runs = [
        calibrate(load_params(), setup=setup, free=free, max_evaluations=7, workers=w)
        for w in (1, 2)
    ]
    assert [h["cost"] for h in runs[0].history] == [h["cost"] for h in runs[1].history]
    assert runs[0].params.digest() == runs[1].params.digest()
    assert len(runs[0].history) <= 7
