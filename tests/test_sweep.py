"""alsim sweep: grids and lists of overrides by key path, one tidy table, a report, --resume."""

import pandas as pd
import pytest
import yaml

from alsim.errors import InputError
from alsim.runtime.sweep import apply_override, load_sweep, parse_key_path
from alsim.trial import run_trials, validate_scenario
from clitools import one_error_line, run

BASE = {
    "alsim": 1,
    "name": "sweep-base",
    "design": "platform",
    "accrual": {"rate_per_month": 60},
    "regimens": [
        {"name": "null_regimen", "n": 40, "product": {"drr": 1.0}},
        {"name": "active_regimen", "n": 40, "product": {"drr": 0.6}},
    ],
    "analysis": {"primary": "healey_drr", "healey_n_grid": 200},
}
SWEEP = {
    "name": "power-vs-n",
    "base": BASE,
    "grid": {"regimens[1].n": [30, 60], "regimens[1].product.drr": [1.0, 0.6]},
    "run": {"n_rep": 6, "seed": 3, "chunk_size": 4},
}


def write(tmp_path, data, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_key_paths():
    assert parse_key_path("regimens[0].product.drr") == ["regimens", 0, "product", "drr"]
    assert parse_key_path("design") == ["design"]
    for bad in ("", "[0].n", "regimens[x]", "a..b", "a.", "a[0]b"):
        with pytest.raises(InputError, match="is not a key path"):
            parse_key_path(bad)
    data = {"a": [{"b": 1}]}
    assert apply_override(data, "a[0].b", 2) == {"a": [{"b": 2}]} and data["a"][0]["b"] == 1
    with pytest.raises(InputError, match=r"a\[0\]\.c: no such key"):
        apply_override(data, "a[0].c", 1)
    with pytest.raises(InputError, match=r"a\[3\]: index out of range"):
        apply_override(data, "a[3].b", 1)


def test_sweep_end_to_end_and_resume(tmp_path, capsys):
    path = write(tmp_path, SWEEP)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "sweep", path, "--out", out)
    assert code == 0, err
    assert "power-vs-n" in stdout and "not medical advice" in stdout
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns) == [
        "point", "regimens[1].n", "regimens[1].product.drr", "comparison", "metric", "est",
        "mcse", "n_rep",
    ]  # fmt: skip
    assert sorted(table["point"].unique()) == [0, 1, 2, 3]
    power = table[(table["metric"] == "power_or_type1") & (table["comparison"] == "active_regimen")]
    assert list(zip(power["regimens[1].n"], power["regimens[1].product.drr"], strict=True)) == [
        (30, 1.0), (30, 0.6), (60, 1.0), (60, 0.6),
    ]  # fmt: skip
    html = (out / "report.html").read_text()
    assert "<svg" in html and "not medical advice" in html
    # a point is exactly the run of its overridden scenario
    data = apply_override(BASE, "regimens[1].n", 60)
    data = apply_override(data, "regimens[1].product.drr", 0.6)
    expected = run_trials(validate_scenario(data), 6, 3, chunk_size=6)
    expected.attrs = {}
    got = pd.read_parquet(out / "points" / "point-003" / "trials.parquet")
    # pandas >= 3 reads text columns back as its string dtype; the values must be identical.
    text = [c for c in expected.columns if expected[c].dtype == object]
    got[text] = got[text].astype(object)
    pd.testing.assert_frame_equal(expected, got)

    # an interrupted sweep: point 2 lost, the table not yet written; --resume redoes only that
    before = (out / "sweep.csv").read_bytes()
    kept = (out / "points" / "point-000" / "manifest.json").read_bytes()
    import shutil

    shutil.rmtree(out / "points" / "point-002")
    (out / "sweep.csv").unlink()
    one_error_line(*run(capsys, "sweep", path, "--out", out), "use --resume")
    code, _, err = run(capsys, "sweep", path, "--out", out, "--resume")
    assert code == 0, err
    assert (out / "sweep.csv").read_bytes() == before
    assert (out / "points" / "point-000" / "manifest.json").read_bytes() == kept  # reused
    one_error_line(
        *run(capsys, "sweep", path, "--out", out, "--resume", "--seed", "4"),
        "was run with seed 3, not 4",
    )


def test_sweep_points_list(tmp_path, capsys):
    data = {
        "base": BASE,
        "points": [{"regimens[1].n": 30}, {"regimens[1].n": 50, "regimens[0].product.drr": 0.9}],
        "run": {"n_rep": 3, "seed": 1},
    }
    sweep = load_sweep(write(tmp_path, data))
    assert sweep.keys == ("regimens[1].n", "regimens[0].product.drr")
    assert sweep.scenario(1).regimens[0].product.drr == 0.9
    out = tmp_path / "out"
    code, _, err = run(capsys, "sweep", write(tmp_path, data), "--out", out)
    assert code == 0, err
    table = pd.read_csv(out / "sweep.csv")
    assert table[table["point"] == 0]["regimens[0].product.drr"].isna().all()


BAD = [
    ({"grid": {"regimens[1].prodct.drr": [1.0]}}, "sweep.yaml: regimens[1].prodct.drr: regimens[1].prodct: no such key"),
    ({"grid": {"regimens[5].n": [10]}}, "sweep.yaml: regimens[5].n: regimens[5]: index out of range"),
    ({"grid": {"regimens[x].n": [10]}}, "sweep.yaml: regimens[x].n: is not a key path"),
    ({"grid": {"regimens[1].product.drr": [0.8, -1]}}, "point 1 (regimens[1].product.drr=-1): regimens[1].product.drr: must be > 0"),
    ({"grid": {"regimens[1].n": 30}}, "sweep.yaml: grid: regimens[1].n: must be a non-empty list"),
    ({"grid": {"regimens[1].n": [30]}, "points": [{"regimens[1].n": 30}]}, "give exactly one of grid and points"),
    ({"grid": None}, "give exactly one of grid and points"),
    ({"base": None}, "sweep.yaml: base: is missing"),
    ({"base": "nowhere.yaml"}, "sweep.yaml: base: scenario file nowhere.yaml not found"),
    ({"bogus": 1}, "sweep.yaml: bogus: is not an allowed key"),
    ({"run": {"n_rep": 0}}, "sweep.yaml: run.n_rep: must be an integer >= 1"),
    ({"report": {"x": "design"}}, "sweep.yaml: report.x: must be one of the swept key paths"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "fragment"), BAD)
def test_bad_sweep_files_name_the_key(tmp_path, capsys, change, fragment):
    data = {**SWEEP, **change}
    data = {k: v for k, v in data.items() if v is not None}
    path = write(tmp_path, data)
    out = tmp_path / "out"
    one_error_line(*run(capsys, "sweep", path, "--out", out), fragment)
    assert not out.exists()


def test_sweep_bad_out(tmp_path, capsys):
    path = write(tmp_path, SWEEP)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    one_error_line(*run(capsys, "sweep", path, "--out", full), "is not empty")
    one_error_line(
        *run(capsys, "sweep", path, "--out", full, "--overwrite"), "not an alsim sweep directory"
    )
    one_error_line(*run(capsys, "sweep", path, "--out", full, "--resume"), "not an alsim sweep")
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
