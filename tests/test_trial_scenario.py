"""Scenario YAML: loading, resolved dump round trip, and errors naming file and key path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from alsim.errors import InputError
from alsim.trial import Scenario, load_scenario, validate_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"

BASE = {
    "name": "t",
    "design": "platform",
    "regimens": [
        {"name": "A", "n": 160, "product": {"drr": 0.7}},
        {"name": "B", "n": 160, "entry_months": 1},
    ],
    "interim": {"first_n": 40},
}


def _error(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(InputError) as info:
        validate_scenario(data, "healey.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["regimens"][1].update(product={"drr": -0.3}),
            "healey.yaml: regimens[1].product.drr: must be > 0",
        ),
        (
            lambda d: d["regimens"][0].update(prodcut={}),
            "healey.yaml: regimens[0].prodcut: is not an allowed key",
        ),
        (lambda d: d.update(design="crossover"), "healey.yaml: design: must be one of"),
        (lambda d: d.pop("name"), "healey.yaml: name: is missing"),
        (
            lambda d: d["regimens"][0].update(allocation=[3, 0]),
            "healey.yaml: regimens[0].allocation: needs active > 0",
        ),
        (
            lambda d: d.update(eligibility={"fvc_percent": [90, 80]}),
            "healey.yaml: eligibility.fvc_percent: lower bound 90.0 is above upper bound 80.0",
        ),
        (
            lambda d: d.update(eligibility={"genotype": ["SOD2"]}),
            "healey.yaml: eligibility.genotype: 'SOD2' is not one of",
        ),
        (
            lambda d: d.update(population={"overrides": {"residual_sd": -1}}),
            "healey.yaml: population.overrides.residual_sd:",
        ),
        (
            lambda d: d["interim"].update(every_weeks="soon"),
            "healey.yaml: interim.every_weeks:",
        ),
        (
            lambda d: d["regimens"][1].update(name="A"),
            "healey.yaml: regimens[1].name: duplicate regimen name 'A'",
        ),
        (
            lambda d: d["regimens"][0]["product"].update(subgroup={"pre_slope_per_month": [2, 1]}),
            "healey.yaml: regimens[0].product.subgroup.pre_slope_per_month",
        ),
        (
            lambda d: d["regimens"][0]["product"].update(pathway={"hazard_factor": 0.5}),
            "healey.yaml: regimens[0].product.pathway: needs generator: mechanistic",
        ),
        (
            lambda d: d.update(design="parallel"),
            "healey.yaml: regimens: a parallel design has exactly one regimen",
        ),
        (lambda d: d.update(analysis={"primary": "anova"}), "healey.yaml: analysis.primary"),
    ],
)
def test_errors_name_the_key_path(mutate, expected):
    assert expected in _error(mutate)


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml: invalid YAML at line"):
        load_scenario(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.yaml: is empty"):
        load_scenario(empty)
    nested = tmp_path / "nested.yaml"
    nested.write_text(yaml.safe_dump({**BASE, "regimens": [{"name": "A", "n": "many"}]}))
    with pytest.raises(InputError, match=r"nested.yaml: regimens\[0\].n: Input should be"):
        load_scenario(nested)


def test_resolved_dump_round_trips(tmp_path):
    s = validate_scenario(copy.deepcopy(BASE), "x")
    dumped = s.model_dump(mode="json")
    assert dumped["regimens"][0]["allocation"] == [3, 1]  # design default resolved
    assert dumped["analysis"]["success_threshold"] == 0.979
    assert dumped["control"]["pool"] == "concurrent"
    path = tmp_path / "resolved.yaml"
    path.write_text(yaml.safe_dump(dumped, sort_keys=False))
    again = load_scenario(path)
    assert again.model_dump(mode="json") == dumped
    assert isinstance(again, Scenario) and again.name == "t"


def test_design_defaults_and_derived_values():
    s = validate_scenario(
        {"name": "p", "design": "parallel", "regimens": [{"name": "A", "n": 100}]}, "x"
    )
    assert s.regimens[0].allocation == (1, 1)
    assert s.control.pool == "own"
    assert s.visit_months[-1] == pytest.approx(24 * 12 / 52)
    assert len(s.visit_months) == 7
    assert s.analysis.success_threshold == 0.979
    s = validate_scenario(
        {
            "name": "p",
            "design": "parallel",
            "analysis": {"primary": "lmm_slope"},
            "regimens": [{"name": "A", "n": 100}],
        },
        "x",
    )
    assert s.analysis.success_threshold == 0.975


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: p.name)
def test_examples_load_and_have_a_header(path):
    s = load_scenario(path)
    text = path.read_text()
    assert text.startswith("#"), "every example starts with a header comment"
    assert s.sources, "every example lists its sources"


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: p.name)
def test_examples_resolved_dump_reloads(path, tmp_path):
    s = load_scenario(path)
    dumped = s.model_dump(mode="json")
    out = tmp_path / path.name
    out.write_text(yaml.safe_dump(dumped, sort_keys=False))
    assert load_scenario(out).model_dump(mode="json") == dumped
