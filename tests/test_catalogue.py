"""The therapy catalogue: loading, sources of every number, user files, scenario integration."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from alsim.errors import InputError
from alsim.treatment import Product
from alsim.treatment.catalogue import (
    Therapy,
    catalogue,
    get_therapy,
    load_therapies,
    validate_therapies,
)
from alsim.trial import load_scenario, validate_scenario

EXPECTED = {
    "riluzole",
    "edaravone",
    "amx0035",
    "tofersen",
    "lenzumestrocel",
    "niv",
    "gastrostomy",
    "multidisciplinary_care",
}
SOURCE = re.compile(r"(https?://\S+|doi:\S+|shared/science/\S+)")

USER_FILE = """\
alsim_therapies: 1
therapies:
  my_drug:
    label: My drug
    kind: small molecule
    status: assumed
    mechanism: Hypothetical anti-inflammatory.
    pathways: [inflammation]
    dosing: 10 mg daily.
    evidence: None yet.
    sources: ["https://example.org/my-drug"]
    empirical:
      drr: {value: 0.8, status: assumed, source: "https://example.org/my-drug"}
      onset_months: {value: 1, status: assumed, source: "https://example.org/my-drug"}
      subgroup: {genotype: [C9orf72], status: assumed, source: "https://example.org/my-drug"}
    mechanistic:
      coupling_factor: {inflammation: 0.5}
      status: assumed
      source: https://example.org/my-drug
"""


def test_catalogue_has_every_therapy_of_the_issue():
    cat = catalogue()
    assert EXPECTED <= set(cat)
    for name, t in cat.items():
        assert isinstance(t, Therapy) and t.name == name
        assert t.mechanism and t.dosing and t.evidence and t.sources
        assert t.status in ("literature", "assumed")


def test_every_number_has_a_source():
    for name, t in catalogue().items():
        for path, number in t.numbers():
            assert SOURCE.search(number.source), f"{name}.{path}: {number.source!r}"
            if number.status == "assumed" or number.status == "derived":
                # an assumption or derivation says what it rests on (source) and, for derived
                # numbers with arithmetic, the note or source names the inputs
                assert number.source.strip()
        if t.empirical.subgroup is not None:
            assert SOURCE.search(t.empirical.subgroup.source)
        if t.mechanistic is not None:
            assert SOURCE.search(t.mechanistic.source)
        for url in t.sources:
            assert SOURCE.search(url), f"{name}: {url}"


def test_literature_numbers_match_the_dossier():
    cat = catalogue()
    assert cat["riluzole"].empirical.hr.value == 0.84
    assert cat["riluzole"].empirical.hr.ci == (0.698, 0.997)
    assert cat["multidisciplinary_care"].empirical.hr.ci == (0.49, 0.71)
    assert cat["edaravone"].empirical.drr.value == pytest.approx(5.01 / 7.50, abs=1e-3)
    assert cat["amx0035"].empirical.drr.value == pytest.approx(1.24 / 1.66, abs=1e-3)


def test_tofersen_sod1_only_delayed_onset_biomarkers_and_dose():
    t = get_therapy("tofersen")
    assert t.empirical.subgroup.genotype == ("SOD1",)
    assert t.empirical.onset_months.value > 0  # function separates later
    nfl = t.biomarker_change("plasma_nfl_change", [0.0, 1.0, 3.0, 12.0])
    assert nfl[0] == 0 and np.all(np.diff(nfl) < 0)  # falls within months
    assert nfl[2] < 0.5 * t.biomarkers["plasma_nfl_change"].value  # most of it by 3 months
    assert t.target_lowering(100) == pytest.approx(0.37)
    assert 0 < t.target_lowering(20) < t.target_lowering(60) < t.target_lowering(100)
    with pytest.raises(InputError):
        t.target_lowering(-1)


def test_products_for_both_generators():
    ril = get_therapy("riluzole").product()
    assert isinstance(ril, Product) and ril.hr == 0.84 and ril.drr == 1.0
    msc = get_therapy("lenzumestrocel").product("mechanistic")
    assert msc.pathway is not None
    assert msc.pathway.coupling_factor[3] < 1  # inflammation
    assert msc.pathway.hazard_factor < 1  # trophic support; no neuron replacement term exists
    with pytest.raises(InputError, match="no mechanistic"):
        get_therapy("niv").product("mechanistic")
    effect = get_therapy("tofersen").pathway_effect(start_months=2.0)
    assert effect.input_factor[0] == pytest.approx(0.63)
    assert get_therapy("gastrostomy").pathway_effect() is None
    assert get_therapy("riluzole").product(drr=0.9).drr == 0.9


def test_unknown_therapy():
    with pytest.raises(InputError, match="unknown therapy 'nope'"):
        get_therapy("nope")


def test_user_file_merges_with_the_catalogue(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(USER_FILE)
    merged = load_therapies(path)
    assert EXPECTED <= set(merged) and "my_drug" in merged
    p = merged["my_drug"].product()
    assert p.drr == 0.8 and p.onset_months == 1 and p.subgroup.genotype == ("C9orf72",)
    assert "my_drug" not in catalogue()  # the packaged catalogue is unchanged


@pytest.mark.parametrize(
    ("edit", "where", "problem"),
    [
        (
            lambda t: t.replace("value: 0.8", "value: -0.8"),
            "therapies.my_drug.empirical.drr",
            "drr",
        ),
        (
            lambda t: t.replace("label: My drug\n", "label: My drug\n    colour: red\n"),
            "therapies.my_drug.colour",
            "not an allowed key",
        ),
        (
            lambda t: t.replace("pathways: [inflammation]", "pathways: [glia]"),
            "therapies.my_drug.pathways",
            "not a pathway",
        ),
        (
            lambda t: t.replace(
                'source: "https://example.org/my-drug"}\n      onset', "}\n      onset"
            ),
            "therapies.my_drug.empirical.drr.source",
            "missing",
        ),
        (
            lambda t: t.replace("alsim_therapies: 1", "alsim_therapies: 2"),
            "alsim_therapies",
            "must be 1",
        ),
        (lambda t: t.replace("my_drug:", "My Drug:"), "therapies.My Drug", "lower case"),
        (lambda t: t.replace("my_drug:", "riluzole:"), "therapies.riluzole", "clashes"),
        (
            lambda t: t.replace(
                "coupling_factor: {inflammation: 0.5}", "coupling_factor: {inflammation: 20}"
            ),
            "therapies.my_drug.mechanistic.coupling_factor",
            "[0, 10]",
        ),
        (
            lambda t: t.replace("status: assumed\n    mechanism", "status: maybe\n    mechanism"),
            "therapies.my_drug.status",
            "must be one of",
        ),
        (lambda t: t + "  : [\n", "mine.yaml", "invalid YAML"),
        (lambda t: "", "mine.yaml", "is empty"),
    ],
)
def test_bad_user_files_name_file_and_key(tmp_path, edit, where, problem):
    path = tmp_path / "mine.yaml"
    path.write_text(edit(USER_FILE))
    with pytest.raises(InputError) as info:
        load_therapies(path)
    message = str(info.value)
    assert message.startswith("mine.yaml"), message
    assert where in message and problem in message, message
    assert "\n" not in message


def test_missing_user_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_therapies(tmp_path / "absent.yaml")


def test_validate_therapies_rejects_non_mapping():
    with pytest.raises(InputError, match="mapping"):
        validate_therapies([1, 2], "x.yaml")


def test_scenario_product_names_a_therapy(tmp_path):
    base = {
        "name": "x",
        "design": "parallel",
        "regimens": [{"name": "a", "n": 40, "product": {"therapy": "edaravone"}}],
    }
    s = validate_scenario(base)
    p = s.regimens[0].product
    assert p.drr == pytest.approx(0.668) and p.subgroup.duration_months == (None, 24)
    # overrides win over the catalogue
    base["regimens"][0]["product"] = {"therapy": "edaravone", "drr": 0.9, "subgroup": None}
    p = validate_scenario(base).regimens[0].product
    assert p.drr == 0.9 and p.subgroup is None
    # the resolved dump loads back to an equal scenario
    s = validate_scenario(base)
    assert validate_scenario(s.model_dump(mode="json")) == s
    # mechanistic generator: the pathway action
    mech = dict(base, generator="mechanistic")
    mech["regimens"] = [{"name": "a", "n": 40, "product": {"therapy": "tofersen"}}]
    assert validate_scenario(mech).regimens[0].product.pathway.input_factor[0] == 0.63


def test_scenario_with_user_therapies_file(tmp_path):
    (tmp_path / "mine.yaml").write_text(USER_FILE)
    scen = tmp_path / "s.yaml"
    scen.write_text(
        textwrap.dedent(
            """\
            alsim: 1
            name: user-therapy
            design: parallel
            therapies: mine.yaml
            regimens:
              - {name: a, n: 40, product: {therapy: my_drug}}
            """
        )
    )
    assert load_scenario(scen).regimens[0].product.drr == 0.8


@pytest.mark.parametrize(
    ("product", "extra", "match"),
    [
        ({"therapy": "nope"}, {}, r"s\.yaml: regimens\[0\]\.product\.therapy: unknown therapy"),
        ({"therapy": "riluzole", "drr": -1}, {}, r"regimens\[0\]\.product\.drr"),
        (
            {"therapy": "niv"},
            {"generator": "mechanistic"},
            r"product\.therapy: niv has no mechanistic",
        ),
        (
            {"therapy": "my_drug"},
            {"therapies": "absent.yaml"},
            r"s\.yaml: therapies: .*cannot read",
        ),
    ],
)
def test_scenario_therapy_errors(tmp_path, product, extra, match):
    import yaml

    data = {
        "alsim": 1,
        "name": "x",
        "design": "parallel",
        "regimens": [{"name": "a", "n": 40, "product": product}],
        **extra,
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match=match):
        load_scenario(path)


def test_dose_scales_the_sod1_input_factor():
    t = get_therapy("tofersen")
    ref = t.product("mechanistic").pathway.input_factor[0]
    assert t.product("mechanistic", dose_mg=100).pathway.input_factor[0] == pytest.approx(ref)
    low = t.product("mechanistic", dose_mg=20).pathway.input_factor[0]
    assert ref < low < 1  # a lower dose lowers SOD1 less
    assert t.product("mechanistic", dose_mg=0).pathway.input_factor[0] == pytest.approx(1.0)
    base = {
        "name": "x",
        "design": "parallel",
        "generator": "mechanistic",
        "regimens": [{"name": "a", "n": 40, "product": {"therapy": "tofersen", "dose_mg": 20}}],
    }
    assert validate_scenario(base).regimens[0].product.pathway.input_factor[0] == pytest.approx(low)
    base["generator"] = "empirical"
    with pytest.raises(InputError, match=r"product\.dose_mg: applies to the mechanistic"):
        validate_scenario(base)
    with pytest.raises(InputError, match="no dose_response"):
        get_therapy("riluzole").product("mechanistic", dose_mg=10)
