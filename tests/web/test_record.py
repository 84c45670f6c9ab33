"""alsim.clinical.record: per-visit scores, staging, ΔFS, D50 and ENCALS against hand-computed
values; missing inputs give reasons, never exceptions."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsim.clinical.d50 import fit_d50
from alsim.clinical.prognosis import EncalsPredictors, encals_prognosis
from alsim.clinical.record import (
    GENOTYPE_NOTES,
    PatientInput,
    VisitInput,
    summarize_record,
)

D = dt.date
MONTH = 30.4375

# Visit 1: bulbar 4+4+4, fine 3+3+4, gross 4+3+4, resp 4+4+4 = 45; handwriting and cutting < 4
# (upper limb) and walking < 4 (lower limb): King's 2 regions; MiToS 0.
ITEMS_1 = (4, 4, 4, 3, 3, 4, 4, 3, 4, 4, 4, 4)
# Visit 2: speech 3 (bulbar) + upper + lower = King's 3; total 3+4+4+2+2+3+3+2+2+4+4+4 = 37.
ITEMS_2 = (3, 4, 4, 2, 2, 3, 3, 2, 2, 4, 4, 4)
# Visit 3: gastrostomy (4A) and swallowing 1 (MiToS swallowing lost), walking 1 (movement lost):
# total 2+3+1+1+1+1+2+1+0+3+3+4 = 22
ITEMS_3 = (2, 3, 1, 1, 1, 1, 2, 1, 0, 3, 3, 4)

PATIENT = PatientInput(
    onset_date=D(2022, 1, 1),
    diagnosis_date=D(2022, 7, 1),
    birth_year=1960,
    sex="male",
    onset_region="spinal",
    genotype="SOD1",
    el_escorial="probable",
    ftd=False,
)
VISITS = [
    VisitInput(D(2023, 1, 1), ITEMS_2, fvc_percent=80.0, weight_kg=76.0),
    VisitInput(D(2022, 7, 1), ITEMS_1, fvc_percent=90.0, weight_kg=80.0, nfl_pg_ml=30.0),
    VisitInput(D(2023, 7, 1), ITEMS_3, gastrostomy=True, fvc_percent=60.0, weight_kg=72.0),
]
TODAY = D(2023, 8, 1)


@pytest.fixture(scope="module")
def summary():
    return summarize_record(PATIENT, VISITS, today=TODAY)


def test_visits_sorted_and_scored(summary) -> None:
    rows = summary.visits
    assert [r.visit_date for r in rows] == [D(2022, 7, 1), D(2023, 1, 1), D(2023, 7, 1)]
    assert [r.total for r in rows] == [45, 37, 22]
    assert rows[0].domains == {"bulbar": 12, "fine_motor": 10, "gross_motor": 11, "respiratory": 12}
    assert rows[1].domains == {"bulbar": 11, "fine_motor": 7, "gross_motor": 7, "respiratory": 12}
    assert [r.kings for r in rows] == ["2", "3", "4A"]
    assert [r.kings_stage for r in rows] == [2, 3, 4]
    # visit 3: movement (walking 1) and swallowing (1) lost; communicating needs speech AND
    # handwriting <= 1 (speech is 2); breathing: dyspnea 3, resp. insufficiency 4: kept.
    assert [r.mitos for r in rows] == [0, 0, 2]


def test_months_and_delta_fs_by_hand(summary) -> None:
    rows = summary.visits
    m1 = (D(2022, 7, 1) - D(2022, 1, 1)).days / MONTH  # 181 days
    m3 = (D(2023, 7, 1) - D(2022, 1, 1)).days / MONTH  # 546 days
    assert rows[0].months_since_onset == pytest.approx(m1)
    assert rows[0].delta_fs == pytest.approx(3 / m1)
    assert rows[2].delta_fs == pytest.approx(26 / m3)
    assert summary.delta_fs == pytest.approx(26 / m3)  # the latest scored visit
    assert 26 / m3 == pytest.approx(1.4486, abs=1e-3)  # 546 days = 17.94 months
    assert summary.progression_category == "fast"  # Kimura: >= 1.0 points/month


def test_progression_category_thresholds() -> None:
    # ΔFS exactly from Kimura's cut-offs: 0.5 and 1.0 points/month
    onset = D(2020, 1, 1)
    slow = summarize_record(
        PatientInput(onset_date=onset),
        [VisitInput(onset + dt.timedelta(days=round(10 * MONTH)), (4,) * 11 + (0,))],
        today=D(2021, 1, 1),
    )
    # 48 - 44 = 4 points over ~10 months: 0.4 / month → slow
    assert slow.delta_fs == pytest.approx(4 / (round(10 * MONTH) / MONTH))
    assert slow.progression_category == "slow"


def test_latest_values(summary) -> None:
    assert summary.latest is not None and summary.latest.total == 22
    assert summary.latest_fvc_percent == 60.0
    assert summary.latest_nfl_pg_ml == 30.0  # last recorded, from the first visit
    assert summary.weight_change_percent == pytest.approx(100 * (72 - 80) / 80)
    assert summary.months_since_onset == pytest.approx((TODAY - D(2022, 1, 1)).days / MONTH)
    # age today with a mid-year birth: 2023 + 212/365.25 - 1960.5
    assert summary.age_years == pytest.approx(2023 + 212 / 365.25 - 1960.5)


def test_d50_matches_fit_d50(summary) -> None:
    t = [r.months_since_onset for r in summary.visits]
    y = [r.total for r in summary.visits]
    fit = fit_d50(t, y)
    assert summary.d50 is not None and summary.d50_reason is None
    assert summary.d50.d50_months == pytest.approx(fit.d50_months)
    assert summary.d50.dx_months == pytest.approx(fit.dx_months)
    now = summary.months_since_onset
    assert summary.d50.rd50 == pytest.approx(now / fit.d50_months)
    assert summary.d50.phase == fit.phase(now)
    assert summary.d50.curve[0] == (0.0, pytest.approx(float(fit.predict(0.0))))


def test_encals_uses_values_at_diagnosis(summary) -> None:
    # the visit nearest diagnosis (2022-07-01) gives ΔFS and FVC; delay 181 days
    m1 = 181 / MONTH
    expected = encals_prognosis(
        EncalsPredictors(
            age_onset_years=round(2022 - 1960.5, 2),
            delta_fs=3 / m1,
            diagnostic_delay_months=m1,
            fvc_percent=90.0,
            bulbar_onset=False,
            definite_als=False,
            ftd=False,
            c9orf72=False,
        )
    )
    prog = summary.prognosis
    assert prog is not None and summary.prognosis_missing == []
    # both predictor visits are named (ΔFS and FVC may come from different visits)
    assert prog.to_dict()["predictor_visit_date"] == "2022-07-01"
    assert prog.to_dict()["fvc_visit_date"] == "2022-07-01"
    assert prog.encals["linear_predictor"] == pytest.approx(expected.linear_predictor)
    assert prog.encals["risk_group"] == expected.risk_group
    assert prog.quantiles_months["0.5"] == pytest.approx(expected.median_months)
    q75, q25 = prog.quantiles_months["0.75"], prog.quantiles_months["0.25"]
    assert q75 < expected.median_months < q25
    assert expected.survival(q75) == pytest.approx(0.75, abs=2e-3)
    assert prog.survival_curve[0] == (0.0, 1.0)
    assert all(
        a[1] >= b[1] for a, b in zip(prog.survival_curve, prog.survival_curve[1:], strict=False)
    )
    assert prog.conditional_from_months == pytest.approx(summary.months_since_onset)
    assert prog.conditional_curve[0][1] == pytest.approx(1.0)


def test_genotype_notes_with_sources(summary) -> None:
    assert summary.genotype_notes == ["genotype.SOD1.tofersen"]
    source = summary.genotype_sources["genotype.SOD1.tofersen"]
    assert "FDA" in source and "2023" in source and "2024" in source
    for notes in GENOTYPE_NOTES.values():
        assert all(key.startswith("genotype.") and text for key, text in notes.items())


def test_to_dict_is_strict_json(summary) -> None:
    data = summary.to_dict()
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert back["visits"][2]["kings"] == "4A"
    assert back["visits"][0]["visit_date"] == "2022-07-01"
    assert back["prognosis"]["survival_curve"][0] == [0.0, 1.0]
    assert back["d50"]["phase"] in ("I", "II", "III", "IV")


def test_missing_everything_gives_reasons() -> None:
    s = summarize_record(PatientInput(), [], today=TODAY)
    assert s.visits == [] and s.latest is None
    assert s.delta_fs is None and "no visit" in (s.delta_fs_reason or "")
    assert s.d50 is None and "cannot fit D50" in (s.d50_reason or "")
    assert s.prognosis is None
    assert set(s.prognosis_missing) >= {
        "onset_date",
        "diagnosis_date",
        "birth_year",
        "onset_region",
        "el_escorial",
        "ftd",
        "fvc_percent",
    }
    assert (s.prognosis_reason or "").startswith("cannot compute ENCALS because")
    assert s.genotype_notes == ["genotype.unknown.info"]
    json.dumps(s.to_dict(), allow_nan=False)


def test_missing_onset_and_fvc_named() -> None:
    s = summarize_record(
        PATIENT.__class__(**{**PATIENT.__dict__, "onset_date": None}),
        [VisitInput(D(2022, 7, 1), ITEMS_1)],
        today=TODAY,
    )
    assert s.visits[0].total == 45 and s.visits[0].delta_fs is None
    assert "onset date" in (s.delta_fs_reason or "")
    assert "onset_date" in s.prognosis_missing and "fvc_percent" in s.prognosis_missing
    assert "onset date is missing" in (s.d50_reason or "")


def test_one_visit_cannot_fit_d50_and_incomplete_items_warn() -> None:
    visits = [
        VisitInput(D(2022, 7, 1), ITEMS_1, fvc_percent=90.0),
        VisitInput(D(2022, 8, 1), (4, None, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4), fvc_percent=88.0),
    ]
    s = summarize_record(PATIENT, visits, today=TODAY)
    assert [v.total for v in s.visits] == [45, None]
    assert "at least 2 scored visits" in (s.d50_reason or "")
    assert any("incomplete" in w for w in s.warnings)
    assert s.latest_fvc_percent == 88.0


def test_short_delay_extrapolation_warning() -> None:
    patient = PatientInput(**{**PATIENT.__dict__, "diagnosis_date": D(2022, 2, 15)})
    s = summarize_record(patient, [VisitInput(D(2022, 2, 15), ITEMS_1, fvc_percent=95.0)])
    assert s.prognosis is not None
    assert any(w.startswith("ENCALS:") and "extrapolation" in w for w in s.warnings)


def test_unknown_genotype_blocks_encals_c9orf72() -> None:
    patient = PatientInput(**{**PATIENT.__dict__, "genotype": "unknown"})
    s = summarize_record(patient, VISITS, today=TODAY)
    assert s.prognosis is None and s.prognosis_missing == ["c9orf72 (genotype)"]


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(0, 4), min_size=12, max_size=12),
    days=st.integers(1, 3000),
    gastrostomy=st.booleans(),
)
def test_total_domains_and_delta_fs_property(items, days, gastrostomy) -> None:
    onset = D(2015, 1, 1)
    s = summarize_record(
        PatientInput(onset_date=onset),
        [VisitInput(onset + dt.timedelta(days=days), tuple(items), gastrostomy=gastrostomy)],
        today=D(2030, 1, 1),
    )
    row = s.visits[0]
    assert row.total == sum(items)
    assert sum(row.domains.values()) == row.total
    assert row.delta_fs == pytest.approx((48 - sum(items)) / (days / MONTH))
    if gastrostomy:
        assert row.kings in ("4A", "4A+4B")
    else:
        assert row.kings not in ("4A", "4A+4B")
    assert 0 <= row.mitos <= 4
    assert math.isfinite(row.delta_fs)


def test_implausible_dates_are_warnings_not_errors() -> None:
    # diagnosis after today, birth after onset: named in warnings; ENCALS gives a reason
    patient = PatientInput(
        **{**PATIENT.__dict__, "diagnosis_date": D(2024, 1, 1), "birth_year": 2023}
    )
    s = summarize_record(patient, VISITS, today=TODAY)
    assert "the diagnosis date lies in the future" in s.warnings
    assert "the birth year is after the onset date" in s.warnings
    assert s.prognosis is None and "age_onset_years" in (s.prognosis_reason or "")
    unborn = PatientInput(birth_year=2030)
    assert "the birth year lies in the future" in summarize_record(unborn, [], today=TODAY).warnings


def test_months_helper_is_the_toolkit_one() -> None:
    from alsim.clinical.progression import months_between
    from alsim.clinical.record import age_years, months_between_dates

    assert months_between_dates(D(2022, 1, 1), D(2023, 7, 1)) == months_between(
        D(2022, 1, 1), D(2023, 7, 1)
    )
    assert age_years(1960, D(2022, 1, 1)) == pytest.approx(61.5)


def test_encals_fvc_from_its_own_nearest_visit() -> None:
    visits = [
        VisitInput(D(2022, 7, 1), ITEMS_1),  # at diagnosis, no FVC
        VisitInput(D(2022, 9, 1), (4,) * 12, fvc_percent=88.0),  # no full ALSFRS-R needed
        VisitInput(D(2023, 1, 1), ITEMS_2, fvc_percent=80.0),
    ]
    prog = summarize_record(PATIENT, visits, today=TODAY).prognosis
    assert prog is not None
    assert prog.visit_date == D(2022, 7, 1) and prog.fvc_visit_date == D(2022, 9, 1)
    assert prog.encals["predictors"]["fvc_percent"] == 88.0


_DATES = st.dates(D(1900, 1, 1), D(2100, 1, 1))


@settings(max_examples=60, deadline=None)
@given(
    onset=st.none() | _DATES,
    diagnosis=st.none() | _DATES,
    birth_year=st.none() | st.integers(1800, 2200),
    visits=st.lists(
        st.builds(
            VisitInput,
            visit_date=_DATES,
            items=st.lists(st.none() | st.integers(-1, 5), max_size=13).map(tuple)
            | st.tuples(*[st.integers(0, 4)] * 12),
            gastrostomy=st.booleans(),
            fvc_percent=st.none() | st.floats(allow_nan=True, allow_infinity=True),
        ),
        max_size=4,
    ),
    today=_DATES,
)
def test_any_record_gives_a_summary_never_an_exception(
    onset, diagnosis, birth_year, visits, today
) -> None:
    patient = PatientInput(
        onset_date=onset,
        diagnosis_date=diagnosis,
        birth_year=birth_year,
        onset_region="spinal",
        genotype="sporadic",
        el_escorial="probable",
        ftd=False,
    )
    s = summarize_record(patient, visits, today=today)
    json.dumps(s.to_dict(), allow_nan=False)
    assert (s.delta_fs is None) == (s.delta_fs_reason is not None)
    assert (s.d50 is None) == (s.d50_reason is not None)
    assert (s.prognosis is None) == (s.prognosis_reason is not None)
