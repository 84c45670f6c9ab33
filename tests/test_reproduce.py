"""Reproduction of real trials: the table, its directions of effect, the CLI and the report."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from alsim.reproduce import (
    FULL_N_REP,
    REPRODUCTIONS,
    TABLE_COLUMNS,
    example_yaml,
    reproduction_table,
    simulate_row,
    table_records,
)
from alsim.trial import load_scenario, run_trials, validate_scenario
from clitools import one_error_line, run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "reproductions"
N = 200


@pytest.fixture(scope="module")
def table():
    return reproduction_table(N, 1)


def _row(df, rid):
    hit = df[df["id"] == rid]
    assert len(hit) == 1, rid
    return hit.iloc[0]


def test_table_columns_and_rows(table):
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["id"]) == [r.id for r in REPRODUCTIONS]
    assert (table["n_rep"] == N).all()
    assert table["source"].str.contains("http").all()
    # every row names its tolerance and all the trials are there
    ids = " ".join(table["id"])
    for key in ("bensimon", "lacomblez", "mci186-16", "mci186-19", "centaur", "phoenix",
                "valor-28wk", "valor-52wk", "valor-nfl", "lenzumestrocel-phase2",
                "alsummit", "bourke"):  # fmt: skip
        assert key in ids


def test_every_row_within_or_known_miss(table):
    for r in table.itertuples():
        assert r.status in ("within", "known miss"), (r.id, r.simulated, r.reason)
        if r.status == "known miss":
            assert r.reason
        assert math.isfinite(r.simulated) and math.isfinite(r.mcse)


def test_directions_of_effect(table):
    assert _row(table, "riluzole-bensimon-1994").simulated > 0  # riluzole improves survival
    assert _row(table, "riluzole-lacomblez-1996").simulated < 1  # HR below 1
    broad = _row(table, "edaravone-mci186-16")
    enriched = _row(table, "edaravone-mci186-19")
    assert enriched.simulated > broad.simulated + 2 * math.hypot(enriched.mcse, broad.mcse)
    assert _row(table, "amx0035-centaur").simulated > 0
    assert _row(table, "tofersen-valor-52wk").simulated > 0  # early start better
    assert _row(table, "tofersen-valor-nfl").simulated < 0  # NfL falls
    assert _row(table, "lenzumestrocel-alsummit-slow").simulated > 0
    assert _row(table, "niv-bourke-2006").simulated > 0


def test_tofersen_function_separates_later_than_biomarker(table):
    """At 28 weeks the functional difference is small relative to 52 weeks (delayed onset)."""
    w28 = _row(table, "tofersen-valor-28wk")
    w52 = _row(table, "tofersen-valor-52wk")
    nfl = _row(table, "tofersen-valor-nfl")
    assert nfl.simulated < -30  # most of the NfL fall by week 28
    assert w28.ci_low < w28.simulated < w28.ci_high
    assert w52.simulated > 0


def test_same_seed_same_numbers_and_seed_matters():
    rows = REPRODUCTIONS[4:6]
    a = reproduction_table(30, 7, rows=rows)
    b = reproduction_table(30, 7, rows=rows)
    c = reproduction_table(30, 8, rows=rows)
    cols = ["simulated", "mcse", "sim_low", "sim_high"]
    assert a[cols].equals(b[cols])
    assert not np.allclose(a["simulated"], c["simulated"])


def test_simulated_values_come_from_the_trial_engine():
    rep = next(r for r in REPRODUCTIONS if r.id == "amx0035-centaur")
    values = simulate_row(rep, 40, 3)
    trials = run_trials(validate_scenario(rep.scenario), 40, 3)
    np.testing.assert_array_equal(values, trials["estimate"].to_numpy())


def test_published_value_is_never_used_by_the_simulation():
    rep = next(r for r in REPRODUCTIONS if r.id == "edaravone-mci186-19")
    other = dataclasses.replace(rep, published=-99.0, ci=(-100.0, 100.0))
    np.testing.assert_array_equal(simulate_row(rep, 20, 5), simulate_row(other, 20, 5))


def test_catalogue_effect_drives_the_simulation():
    """A null product in the same design gives no effect (the effect is the catalogue's)."""
    rep = next(r for r in REPRODUCTIONS if r.id == "amx0035-centaur")
    scenario = json.loads(json.dumps(rep.scenario))
    scenario["regimens"][0]["product"] = {"therapy": "amx0035", "drr": 1.0}
    null = dataclasses.replace(rep, scenario=scenario)
    assert abs(np.mean(simulate_row(null, 100, 2))) < 0.1
    assert np.mean(simulate_row(rep, 100, 2)) > 0.3


def test_json_records_are_strict(table):
    text = json.dumps(table_records(table), allow_nan=False)
    data = json.loads(text)
    assert data["n_rep"] == N and len(data["rows"]) == len(REPRODUCTIONS)
    assert "not medical advice" in data["disclaimer"]


def test_examples_are_up_to_date_and_load():
    files = sorted(EXAMPLES.glob("*.yaml"))
    expected = {f"{r.id}.yaml": r for r in REPRODUCTIONS if r.scenario}
    assert sorted(p.name for p in files) == sorted(expected)
    for path in files:
        rep = expected[path.name]
        assert path.read_text() == example_yaml(rep), f"regenerate {path.name}"
        loaded = load_scenario(path)
        assert loaded.model_dump(mode="json") == validate_scenario(rep.scenario).model_dump(
            mode="json"
        )


def test_report_section():
    from alsim.report.reproduce import reproduction_report, reproduction_section

    df = reproduction_table(20, 1, rows=REPRODUCTIONS[:3])
    sections, summary = reproduction_section(df)
    assert sections[0]["id"] == "reproduction"
    assert (
        sections[0]["figures"][0].lstrip().startswith("<svg") or "<svg" in sections[0]["figures"][0]
    )
    assert "<table" in sections[0]["table"]
    assert summary["counts"]["within"] + summary["counts"]["known miss"] == 3
    html = reproduction_report(df)
    assert "not medical advice" in html and "Bensimon" in html


# -- CLI ------------------------------------------------------------------------------------------


def test_cli_json_and_out(capsys, tmp_path):
    out = tmp_path / "repro"
    code, stdout, err = run(capsys, "reproduce", "--n-rep", 20, "--seed", 3, "--json", "--out", out)
    assert code == 0, err
    data = json.loads(stdout)
    assert len(data["rows"]) == len(REPRODUCTIONS) and data["seed"] == 3
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "reproduction.csv",
        "reproduction.json",
    ]
    assert json.loads((out / "reproduction.json").read_text())["rows"] == data["rows"]
    # the same seed again gives the same numbers (and may rewrite its own folder)
    code, stdout2, _ = run(capsys, "reproduce", "--n-rep", 20, "--seed", 3, "--json", "--out", out)
    assert code == 0 and json.loads(stdout2)["rows"] == data["rows"]


def test_cli_table(capsys):
    code, stdout, err = run(capsys, "reproduce", "--n-rep", 10)
    assert code == 0, err
    assert "riluzole-bensimon-1994" in stdout and "not medical advice" in stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--n-rep", 1), "--n-rep"),
        (("--n-rep", "x"), "--n-rep"),
        (("--seed", -1), "--seed"),
        (("--out", ""), "--out"),
        (("--out", "FILE"), "not a directory"),
        (("--out", "BUSY"), "contains other files"),
        (("--bogus",), "--bogus"),
    ],
)
def test_cli_bad_input(capsys, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "BUSY").mkdir()
    (tmp_path / "BUSY" / "notes.txt").write_text("keep")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, stdout, err = run(capsys, "reproduce", *args)
    one_error_line(code, stdout, err, fragment)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_full_size_table_within_or_known_miss():
    df = reproduction_table(FULL_N_REP, 1)
    assert set(df["status"]) <= {"within", "known miss"}
