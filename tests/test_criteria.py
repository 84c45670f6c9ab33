"""Diagnostic criteria: worked examples D1-D7 (clinical-instruments.md §7.4), properties."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsim.clinical.criteria import (
    AWAJI_CATEGORIES,
    EL_ESCORIAL_CATEGORIES,
    REGIONS,
    Findings,
    RegionFindings,
    awaji,
    classify_all,
    gold_coast,
    revised_el_escorial,
)
from alsim.errors import InputError

BOTH = {"umn": True, "lmn_clinical": True}
UMN = {"umn": True}
LMN = {"lmn_clinical": True}
EMG = {"lmn_emg": True}


def patient(progressive=True, **regions):
    return Findings.from_mapping(
        {
            **regions,
            "progressive": progressive,
            "mimics_excluded": True,
            "normal_motor_function_before": True,
        }
    )


def test_d1_definite():
    f = patient(bulbar=BOTH, cervical=BOTH, lumbosacral=BOTH)
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("definite", "definite", True)


def test_d2_probable():
    f = patient(cervical=BOTH, lumbosacral=BOTH)
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("probable", "probable", True)


def test_d3_one_region():
    f = patient(cervical=BOTH)
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("possible", "possible", True)
    # rEEC: EMG shows LMN in >= 2 limbs -> laboratory-supported probable
    lab = patient(cervical={**BOTH, "lmn_emg": True}, lumbosacral=EMG)
    assert revised_el_escorial(lab) == "probable_lab_supported"
    # Awaji: EMG makes a second region UMN + LMN with UMN rostral -> probable
    awj = patient(cervical=BOTH, lumbosacral={"umn": True, "lmn_emg": True})
    assert awaji(awj) == "probable"
    assert gold_coast(lab) and gold_coast(awj)


@pytest.mark.parametrize("lmn", [LMN, EMG, {"lmn_clinical": True, "lmn_emg": True}])
def test_d4_pure_lmn(lmn):
    f = patient(cervical=lmn, lumbosacral=lmn)
    expected_eec = "suspected"
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == (expected_eec, "not_met", True)


def test_d5_umn_bulbar_lmn_lumbosacral_documented_reading():
    # AMBIGUOUS in the notes (§7.4 D5). alsim's documented reading (criteria.py docstring): UMN
    # and LMN regions are counted separately and the rostrality clause decides, because Brooks
    # 2000 says "together" only for the one-region case and the "some UMN signs rostral to LMN
    # signs" clause would be vacuous if both signs had to share each region. So UMN in bulbar
    # (rostral) plus LMN in lumbosacral is "probable" for rEEC and Awaji. Gold Coast is not met
    # under either reading (no region with both; LMN in only one region).
    f = patient(bulbar=UMN, lumbosacral=LMN)
    assert revised_el_escorial(f) == "probable"
    assert awaji(f) == "probable"
    assert gold_coast(f) is False
    # the reverse pattern (LMN rostral to UMN, e.g. cervical myelopathy) is only "possible"
    rev = patient(cervical=LMN, lumbosacral=UMN)
    assert (revised_el_escorial(rev), awaji(rev), gold_coast(rev)) == (
        "possible",
        "possible",
        False,
    )


def test_d6_umn_only_three_regions():
    f = patient(bulbar=UMN, cervical=UMN, lumbosacral=UMN)
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("possible", "possible", False)


def test_d7_not_progressive():
    f = patient(progressive=False, bulbar=BOTH, cervical=BOTH, lumbosacral=BOTH)
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("not_met", "not_met", False)


def test_prerequisites_for_gold_coast_and_mimics():
    base = {"cervical": BOTH, "progressive": True, "mimics_excluded": True}
    assert not gold_coast({**base, "normal_motor_function_before": False})
    f = Findings.from_mapping(
        {**base, "normal_motor_function_before": True, "mimics_excluded": False}
    )
    assert (revised_el_escorial(f), awaji(f), gold_coast(f)) == ("not_met", "not_met", False)


def test_gold_coast_umn_and_lmn_in_different_single_regions_is_not_met():
    # coding trap from the notes: UMN in region A + LMN in a different single region B
    assert not gold_coast(patient(cervical=UMN, lumbosacral=EMG))


def test_umn_single_region_and_nothing_at_all():
    assert revised_el_escorial(patient(cervical=UMN)) == "suspected"
    assert awaji(patient(cervical=UMN)) == "not_met"
    assert revised_el_escorial(patient()) == "not_met"


def test_classify_all_reasons():
    result = classify_all(patient(bulbar=UMN, lumbosacral=LMN))
    assert result.revised_el_escorial == "probable"
    assert "bulbar" in result.revised_el_escorial_reason
    assert "lumbosacral" in result.revised_el_escorial_reason
    assert result.gold_coast is False
    assert result.gold_coast_reason.startswith("requirement 2 fails")
    d = result.as_dict()
    assert set(d) == {
        "revised_el_escorial",
        "revised_el_escorial_reason",
        "awaji",
        "awaji_reason",
        "gold_coast",
        "gold_coast_reason",
    }
    lab = classify_all(patient(cervical=UMN, thoracic=EMG, lumbosacral=EMG))
    assert lab.revised_el_escorial == "probable_lab_supported"
    assert "EMG" in lab.revised_el_escorial_reason


# -- construction and validation ----------------------------------------------------------------
def test_build_from_dataclasses_and_mapping_agree():
    direct = Findings(
        cervical=RegionFindings(umn=True, lmn_clinical=True),
        progressive=True,
        mimics_excluded=True,
        normal_motor_function_before=True,
    )
    assert direct == patient(cervical=BOTH)
    assert revised_el_escorial({"cervical": BOTH, "progressive": True, "mimics_excluded": True,
                                "normal_motor_function_before": True}) == "possible"  # fmt: skip
    assert list(direct.regions) == list(REGIONS)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"cranial": UMN}, "cranial"),
        ({"cervical": {"umn": True, "fasciculations": True}}, "cervical.fasciculations"),
        ({"cervical": {"umn": "yes"}}, "cervical.umn"),
        ({"cervical": [True, False]}, "cervical"),
        ({"progressive": "true"}, "progressive"),
    ],
)
def test_bad_mappings(data, where):
    full = {"progressive": True, "mimics_excluded": True, "normal_motor_function_before": True}
    with pytest.raises(InputError, match=f"^{where}:"):
        Findings.from_mapping({**full, **data})


def test_flags_are_required():
    with pytest.raises(InputError, match="^normal_motor_function_before: is required"):
        Findings.from_mapping({"progressive": True, "mimics_excluded": True})
    with pytest.raises(InputError, match="^lmn_emg:"):
        RegionFindings(lmn_emg=2)


# -- properties -----------------------------------------------------------------------------------
region_st = st.builds(RegionFindings, st.booleans(), st.booleans(), st.booleans())
findings_st = st.builds(
    Findings,
    bulbar=region_st,
    cervical=region_st,
    thoracic=region_st,
    lumbosacral=region_st,
    progressive=st.booleans(),
    mimics_excluded=st.booleans(),
    normal_motor_function_before=st.booleans(),
)


def _add(a: Findings, b: Findings) -> Findings:
    """Union of findings: every flag of ``a`` or ``b`` (so only ever adds findings)."""
    regions = {
        name: RegionFindings(
            *(
                getattr(a.regions[name], k) or getattr(b.regions[name], k)
                for k in ("umn", "lmn_clinical", "lmn_emg")
            )
        )
        for name in REGIONS
    }
    return dataclasses.replace(a, **regions)


@given(findings_st, findings_st)
def test_adding_findings_never_lowers_the_category(a, b):
    more = _add(a, b)
    eec = EL_ESCORIAL_CATEGORIES.index
    awj = AWAJI_CATEGORIES.index
    assert eec(revised_el_escorial(more)) <= eec(revised_el_escorial(a))
    assert awj(awaji(more)) <= awj(awaji(a))
    assert gold_coast(more) >= gold_coast(a)


@given(findings_st)
def test_gold_coast_never_requires_umn_when_lmn_in_two_regions(f):
    lmn_regions = [r for r in REGIONS if f.regions[r].lmn_any]
    no_umn = dataclasses.replace(
        f,
        **{r: dataclasses.replace(f.regions[r], umn=False) for r in REGIONS},
    )
    if len(lmn_regions) >= 2:
        assert gold_coast(no_umn) == (
            f.progressive and f.mimics_excluded and f.normal_motor_function_before
        )


@given(findings_st)
def test_not_progressive_is_never_met(f):
    f = dataclasses.replace(f, progressive=False)
    assert revised_el_escorial(f) == "not_met"
    assert awaji(f) == "not_met"
    assert gold_coast(f) is False


@given(findings_st)
def test_awaji_is_at_least_as_certain_as_el_escorial_for_clinical_categories(f):
    # EMG only ever adds LMN evidence under Awaji; rEEC's definite/probable/possible are clinical
    order = {"definite": 0, "probable": 1, "possible": 2}
    eec = revised_el_escorial(f)
    if eec in order:
        assert AWAJI_CATEGORIES.index(awaji(f)) <= order[eec]
