"""`alsim validate`, `alsim run` and `alsim report` from the command line."""

import hashlib
import json
import textwrap

import pandas as pd
import pytest

from alsim.results import performance, write_run
from alsim.results.synthetic import synthetic_trials
from clitools import one_error_line, run

#: A small platform scenario (two regimens sharing placebo, one interim) that runs in seconds.
SMALL_PLATFORM = textwrap.dedent(
    """\
    alsim: 1
    name: cli-small-platform
    description: two regimens sharing placebo (test)
    design: platform
    accrual: {rate_per_month: 60}
    regimens:
      - {name: null_regimen, n: 60, product: {drr: 1.0}}
      - {name: active_regimen, n: 60, product: {drr: 0.6}}
    interim: {first_n: 40, every_weeks: 12}
    analysis: {primary: healey_drr, healey_n_grid: 200}
    run: {n_rep: 12, seed: 5}
    """
)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_PLATFORM)
    return path


@pytest.fixture
def synthetic_run(tmp_path):
    trials = synthetic_trials(n_rep=150, seed=4)
    scenario = {"name": "synthetic", "description": "made-up trials", "design": "platform"}
    return write_run(
        tmp_path / "synthetic-run",
        scenario=scenario,
        trials=trials,
        performance=performance(trials),
        report_html="<html>old</html>",
        seed=4,
        n_rep=150,
    )


def rewrite(run_dir, name, data: bytes):
    """Replace a run file and record its new sha256 (a consistent but damaged run)."""
    (run_dir / name).write_bytes(data)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


# -- alsim validate -------------------------------------------------------------------------------
BAD_SCENARIOS = [
    ("missing", None, "file not found"),
    ("empty.yaml", "", "empty.yaml: is empty"),
    ("syntax.yaml", "name: [unclosed\n", "syntax.yaml: invalid YAML at line"),
    ("list.yaml", "- 1\n- 2\n", "list.yaml: must be a mapping"),
    (
        "typo.yaml",
        SMALL_PLATFORM.replace("product: {drr: 0.6}", "prodct: {drr: 0.6}"),
        "typo.yaml: regimens[1].prodct: is not an allowed key",
    ),
    (
        "value.yaml",
        SMALL_PLATFORM.replace("drr: 0.6", "drr: -0.3"),
        "value.yaml: regimens[1].product.drr: must be > 0",
    ),
    (
        "design.yaml",
        SMALL_PLATFORM.replace("design: platform", "design: crossover"),
        "design.yaml: design: must be one of",
    ),
]


@pytest.mark.parametrize(("name", "text", "fragment"), BAD_SCENARIOS)
def test_validate_bad_files_one_line_exit_2(tmp_path, capsys, name, text, fragment):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    before = snapshot(tmp_path)
    one_error_line(*run(capsys, "validate", path), fragment)
    assert snapshot(tmp_path) == before


def test_validate_directory_is_an_error(tmp_path, capsys):
    one_error_line(*run(capsys, "validate", tmp_path), "is a directory")


def test_validate_prints_resolved_summary(scenario_file, capsys):
    code, out, err = run(capsys, "validate", scenario_file)
    assert code == 0, err
    assert "cli-small-platform" in out and "valid" in out
    assert "null_regimen" in out and "active_regimen" in out and "digest" in out
    code, out, _ = run(capsys, "validate", scenario_file, "--resolved")
    assert code == 0 and "success_threshold: 0.979" in out  # defaults are filled in


# -- alsim run: bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--n-rep", "0"], "--n-rep: must be a positive integer"),
        (["--seed", "-1"], "--seed: must be a non-negative integer"),
        (["--chunk-size", "0"], "--chunk-size: must be a positive integer"),
        (["--n-rep", "many"], "--n-rep"),
    ],
)
def test_run_bad_flags(tmp_path, capsys, scenario_file, flags, fragment):
    out = tmp_path / "out"
    one_error_line(*run(capsys, "run", scenario_file, "--out", out, *flags), fragment)
    assert not out.exists()


def test_run_bad_out(tmp_path, capsys, scenario_file):
    one_error_line(*run(capsys, "run", scenario_file, "--out", " "), "--out: must name a directory")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", a_file), "exists and is not a directory"
    )
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    one_error_line(*run(capsys, "run", scenario_file, "--out", full), "use --overwrite")
    one_error_line(
        *run(capsys, "run", scenario_file, "--out", full, "--overwrite"),
        "not an alsim run directory",
    )
    assert snapshot(full) == {full.joinpath("keep.txt").relative_to(full): b"mine"}


@pytest.mark.parametrize(("name", "text", "fragment"), BAD_SCENARIOS)
def test_run_bad_scenario_writes_nothing(tmp_path, capsys, name, text, fragment):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    out = tmp_path / "out"
    one_error_line(*run(capsys, "run", path, "--out", out), fragment)
    assert not out.exists()


# -- alsim report: bad run directories ------------------------------------------------------------
def damage_cases():
    return [
        ("absent", lambda d: d / "nope", "run directory not found"),
        ("file", lambda d: d / "trials.parquet", "is not a directory"),
        (
            "no manifest",
            lambda d: (d / "manifest.json").unlink() or d,
            "manifest.json: file not found",
        ),
        (
            "bad manifest",
            lambda d: (d / "manifest.json").write_text("{oops") and d,
            "manifest.json: not valid JSON",
        ),
        (
            "other manifest",
            lambda d: (d / "manifest.json").write_text('{"kind": "cohort"}') and d,
            "is not the manifest of an `alsim run` directory",
        ),
        (
            "no trials",
            lambda d: (d / "trials.parquet").unlink() or d,
            "trials.parquet: file not found",
        ),
        (
            "changed trials",
            lambda d: (d / "trials.parquet").write_bytes(b"PAR1garbage") and d,
            "trials.parquet: does not match the sha256",
        ),
        (
            "corrupt trials",
            lambda d: rewrite(d, "trials.parquet", b"PAR1garbage") or d,
            "trials.parquet: not a readable Parquet file",
        ),
        (
            "trials without columns",
            lambda d: rewrite(d, "trials.parquet", pd.DataFrame({"rep": [0]}).to_parquet()) or d,
            "trials.parquet: missing column(s) comparison",
        ),
        (
            "performance columns",
            lambda d: rewrite(d, "performance.csv", b"name,value\na,1\n") or d,
            "performance.csv: missing column(s) metric, est, mcse",
        ),
        (
            "empty performance",
            lambda d: rewrite(d, "performance.csv", b"") or d,
            "performance.csv: not a readable CSV file",
        ),
        (
            "bad scenario",
            lambda d: rewrite(d, "scenario.yaml", b"name: [x\n") or d,
            "scenario.yaml: not valid YAML",
        ),
    ]


@pytest.mark.parametrize(
    ("label", "damage", "fragment"), damage_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_report_bad_run_dirs(synthetic_run, capsys, label, damage, fragment):
    target = damage(synthetic_run)
    before = snapshot(synthetic_run)
    one_error_line(*run(capsys, "report", target), fragment)
    assert snapshot(synthetic_run) == before  # report.html untouched


def test_report_rebuilds_html_and_records_it(synthetic_run, capsys):
    code, out, err = run(capsys, "report", synthetic_run)
    assert code == 0, err
    html = (synthetic_run / "report.html").read_text()
    assert html.count("<svg") >= 4 and "not medical advice" in html and "synthetic" in html
    manifest = json.loads((synthetic_run / "manifest.json").read_text())
    digest = hashlib.sha256(html.encode()).hexdigest()
    assert manifest["files"]["report.html"]["sha256"] == digest
    assert "report_rebuilt_utc" in manifest
    assert "Report written to" in out
    code, _, err = run(capsys, "report", synthetic_run)  # the rebuilt run still reads back
    assert code == 0, err


# -- alsim run end to end -------------------------------------------------------------------------
def test_run_end_to_end_and_chunk_invariance(tmp_path, capsys, scenario_file):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "run", scenario_file, "--out", out, "--chunk-size", "5")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "performance.csv",
        "report.html",
        "scenario.yaml",
        "trials.parquet",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_rep"] == 12 and manifest["seed"] == 5  # from the scenario's run block
    assert manifest["chunk_size"] == 5 and manifest["timings_seconds"]["simulate"] > 0
    for name in ("scenario.yaml", "trials.parquet", "performance.csv", "report.html"):
        data = (out / name).read_bytes()
        assert manifest["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    trials = pd.read_parquet(out / "trials.parquet")
    assert set(trials["comparison"]) == {"null_regimen", "active_regimen"}
    assert trials["rep"].nunique() == 12
    perf = pd.read_csv(out / "performance.csv")
    assert list(perf.columns) == ["comparison", "metric", "est", "mcse"]
    assert "power_or_type1" in set(perf["metric"]) and "(trial)" in set(perf["comparison"])
    assert "cli-small-platform" in stdout and "Pr(success)" in stdout
    assert "not medical advice" in stdout
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 4 and "Resolved scenario" in html
    # the resolved scenario validates again
    code, _, err = run(capsys, "validate", out / "scenario.yaml")
    assert code == 0, err
    # same seed, other chunk size and --n-rep/--seed given explicitly: identical trials
    again = tmp_path / "again"
    code, _, err = run(
        capsys, "run", scenario_file, "--out", again, "--n-rep", "12", "--seed", "5",
        "--chunk-size", "12",
    )  # fmt: skip
    assert code == 0, err
    pd.testing.assert_frame_equal(trials, pd.read_parquet(again / "trials.parquet"))
    # refuses to overwrite without --overwrite, replaces a run directory with it
    one_error_line(*run(capsys, "run", scenario_file, "--out", out), "use --overwrite")
    code, _, err = run(capsys, "run", scenario_file, "--out", out, "--n-rep", "3", "--overwrite")
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["n_rep"] == 3
    code, _, err = run(capsys, "report", out)
    assert code == 0, err
