"""The reproduced trials: design, eligibility, catalogue therapy and the published result.

Each :class:`Reproduction` is one row of the reproduction table: a scenario (the trial's design
and eligibility, the therapy named from the catalogue with ``product: {therapy: ...}``), how the
simulated value is read from the simulated trials (``metric``), and the published value with its
interval and source (shared/science/trials.md Part A). The published value is never used by the
simulation; it is only compared with it.

Intervals: the published 95% CI where one is published; otherwise one derived from a published
SE or p-value (normal approximation; the arithmetic is in ``tolerance_note``), or, with no
interval at all, the central 95% of the simulated trials' estimates (the published value must
fall inside it). Numbers marked UNCONFIRMED in the dossier are not used as oracles.

``role``: ``validation`` (the catalogue effect was not set from this result), ``calibration``
(the catalogue effect was derived from this very result, so agreement is by construction up to
the design, eligibility and Monte Carlo error) or ``consistency`` (both the effect and the
control arm rest on assumptions).

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import norm

__all__ = ["REPRODUCTIONS", "Reproduction"]

WEEKS = 12.0 / 52.0  # months per week (the HEALEY convention used by the trial engine)


def wald_difference(x1: int, n1: int, x0: int, n0: int) -> tuple[float, tuple[float, float]]:
    """Difference of two proportions (percentage points) and its Wald 95% interval."""
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    d = 100 * (p1 - p0)
    return d, (d - 196 * se, d + 196 * se)


def ci_from_se(value: float, se: float) -> tuple[float, float]:
    """value ± 1.96 SE."""
    return (value - 1.959964 * se, value + 1.959964 * se)


def ci_from_p(value: float, p: float, *, log: bool = False) -> tuple[float, float]:
    """95% interval from a two-sided p-value (normal approximation; ``log`` for ratios)."""
    z = norm.isf(p / 2)
    if log:
        se = abs(math.log(value)) / z
        return (value * math.exp(-1.959964 * se), value * math.exp(1.959964 * se))
    return ci_from_se(value, abs(value) / z)


@dataclass(frozen=True)
class Reproduction:
    """One reproduced trial result (a row of the table)."""

    id: str
    trial: str
    therapy: str
    endpoint: str
    unit: str
    metric: str  # slope | slope_points | hr | km_difference | median_gain_days | ds_difference | biomarker | valor_mechanistic
    scenario: dict[str, Any]
    published: float  # NaN for a direction-only row
    published_text: str
    source: str
    ci: tuple[float, float] | None = None
    tolerance_kind: str = "published 95% CI"
    tolerance_note: str = ""
    role: str = "validation"
    known_miss: str | None = None
    metric_args: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _parallel(name, description, *, n, allocation, therapy, followup_weeks, primary, **extra):
    scenario = {
        "alsim": 1,
        "name": name,
        "description": description,
        "design": "parallel",
        "accrual": {"rate_per_month": extra.pop("accrual", 10)},
        "schedule": {
            "followup_weeks": followup_weeks,
            "visit_every_weeks": extra.pop("visit_every_weeks", 4),
        },
        "regimens": [
            {
                "name": therapy,
                "n": n,
                "allocation": list(allocation),
                "product": {"therapy": therapy},
            }
        ],
        "analysis": {"primary": primary},
    }
    scenario.update(extra)
    return scenario


_BENSIMON_D, _BENSIMON_CI = wald_difference(57, 77, 45, 78)
_LACOMBLEZ_CI = ci_from_p(0.79, 0.076, log=True)
_PHOENIX_CI = ci_from_p(0.343, 0.667)
_ALSUMMIT_CI = ci_from_p(31.2 - 26.4, 0.001)

#: The reproduction table's rows, in order.
REPRODUCTIONS: tuple[Reproduction, ...] = (
    Reproduction(
        id="riluzole-bensimon-1994",
        trial="Bensimon 1994 (riluzole 100 mg vs placebo, 155 patients)",
        therapy="riluzole",
        endpoint="12-month survival, riluzole minus placebo",
        unit="percentage points",
        metric="km_difference",
        metric_args={"months": 12.0},
        scenario=_parallel(
            "bensimon-1994-like",
            "Bensimon 1994-like: riluzole vs placebo, onset <= 5 years, FVC > 60%, survival",
            n=155,
            allocation=(1, 1),
            therapy="riluzole",
            followup_weeks=52,
            primary="cox",
            visit_every_weeks=13,
            accrual=8,
            population={
                "overrides": {"death_hazard_per_month": 0.0458, "dropout_hazard_per_month": 0.005}
            },
            eligibility={"duration_months": [None, 60], "fvc_percent": [60, None]},
            sources=["https://pubmed.ncbi.nlm.nih.gov/8302340/"],
        ),
        published=_BENSIMON_D,
        published_text="74.0% vs 57.7% alive at 12 months (57/77 vs 45/78), +16.3 points",
        ci=_BENSIMON_CI,
        tolerance_kind="derived 95% CI",
        tolerance_note="Wald interval of the difference of the published proportions 57/77 and 45/78",
        source="https://pubmed.ncbi.nlm.nih.gov/8302340/ (N Engl J Med 1994;330:585)",
        note="placebo death hazard 0.0458/month = -ln(45/78)/12 (derived from the placebo arm); "
        "catalogue effect: Cochrane pooled HR 0.84, no functional slowing",
    ),
    Reproduction(
        id="riluzole-lacomblez-1996",
        trial="Lacomblez 1996 (riluzole 100 mg vs placebo arms, 18 months)",
        therapy="riluzole",
        endpoint="tracheostomy-free survival, hazard ratio (unadjusted)",
        unit="HR",
        metric="hr",
        scenario=_parallel(
            "lacomblez-1996-like",
            "Lacomblez 1996-like: riluzole 100 mg vs placebo, 18 months, tracheostomy-free survival",
            n=480,
            allocation=(1, 1),
            therapy="riluzole",
            followup_weeks=78,
            primary="cox",
            visit_every_weeks=13,
            accrual=40,
            population={
                "overrides": {"death_hazard_per_month": 0.038, "dropout_hazard_per_month": 0.005}
            },
            eligibility={"duration_months": [None, 60]},
            sources=["https://kiphub.com/paper/61e5045023a54523c4f63cb5"],
        ),
        published=0.79,
        published_text="unadjusted risk 0.79 (p=0.076); Cox-adjusted 0.65 (p=0.002)",
        ci=_LACOMBLEZ_CI,
        tolerance_kind="derived 95% CI",
        tolerance_note="from the two-sided p=0.076 on the log scale (SE of log HR = |ln 0.79| / z)",
        source="https://kiphub.com/paper/61e5045023a54523c4f63cb5 (Lancet 1996;347:1425)",
        note="two of the four arms (959/4 ~ 240 each, derived); placebo event hazard 0.038/month = "
        "-ln(0.504)/18 (50.4% event-free at 18 months, derived); the unadjusted estimate is the one "
        "comparable with an unadjusted Cox model",
    ),
    Reproduction(
        id="edaravone-mci186-16",
        trial="MCI186-16 (edaravone IV, broad population, 206 patients)",
        therapy="edaravone",
        endpoint="ALSFRS-R change at 24 weeks, edaravone minus placebo",
        unit="points",
        metric="slope_points",
        metric_args={"months": 24 * WEEKS},
        scenario=_parallel(
            "mci186-16-like",
            "MCI186-16-like broad 1:1 trial, 24 weeks (duration <= 3 years, FVC >= 70%: assumed)",
            n=206,
            allocation=(1, 1),
            therapy="edaravone",
            followup_weeks=24,
            primary="lmm_slope",
            accrual=10,
            population={"overrides": {"decline_mean_per_month": 1.15}},
            eligibility={"duration_months": [None, 36], "fvc_percent": [70, None]},
            sources=["https://peeref.com/works/16872190"],
        ),
        published=0.65,
        published_text="-5.70 vs -6.35, difference 0.65 ± 0.78 (SE), not significant",
        ci=ci_from_se(0.65, 0.78),
        tolerance_kind="derived 95% CI",
        tolerance_note="0.65 ± 1.96 × 0.78 (published SE)",
        source="https://peeref.com/works/16872190 (Abe 2014, ALS-FTD 15:610)",
        note="population mean decline 1.15/month = 6.35 points / 5.54 months (placebo arm, derived); "
        "the broad eligibility is assumed (not in the dossier); the catalogue effect acts only in "
        "the enriched subgroup (duration <= 2 years, FVC >= 80%), so it is diluted here",
    ),
    Reproduction(
        id="edaravone-mci186-19",
        trial="MCI186-19 (edaravone IV, enriched population, 137 patients)",
        therapy="edaravone",
        endpoint="ALSFRS-R change at 24 weeks, edaravone minus placebo",
        unit="points",
        metric="slope_points",
        metric_args={"months": 24 * WEEKS},
        scenario=_parallel(
            "mci186-19-like",
            "MCI186-19-like enriched 1:1 trial: duration <= 2 y, FVC >= 80%, 1-4 point lead-in decline",
            n=137,
            allocation=(1, 1),
            therapy="edaravone",
            followup_weeks=24,
            primary="lmm_slope",
            accrual=8,
            population={"overrides": {"decline_mean_per_month": 1.5}},
            eligibility={
                "duration_months": [None, 24],
                "fvc_percent": [80, None],
                "lead_in": {"months": 2.769, "decline_points": [1, 4]},
            },
            sources=["https://doi.org/10.1016/S1474-4422(17)30115-1"],
        ),
        published=2.49,
        published_text="-5.01 vs -7.50, difference 2.49 ± 0.76 (SE), P=0.0013",
        ci=ci_from_se(2.49, 0.76),
        tolerance_kind="derived 95% CI",
        tolerance_note="2.49 ± 1.96 × 0.76 (published SE)",
        source="https://n.neurology.org/content/86/16_Supplement/P3.189 (Lancet Neurol 2017;16:505)",
        role="calibration",
        note="the catalogue DRR 0.668 = 5.01/7.50 comes from this trial; design as "
        "examples/scenarios/mci186_19_like.yaml (lead-in band UNCONFIRMED, kept as in that file)",
    ),
    Reproduction(
        id="amx0035-centaur",
        trial="CENTAUR (sodium phenylbutyrate-taurursodiol, phase 2, 137 patients, 2:1)",
        therapy="amx0035",
        endpoint="ALSFRS-R slope difference, active minus placebo",
        unit="points/month",
        metric="slope",
        scenario=_parallel(
            "centaur-like",
            "CENTAUR-like 2:1 trial, onset <= 18 months, 24 weeks",
            n=137,
            allocation=(2, 1),
            therapy="amx0035",
            followup_weeks=24,
            primary="lmm_slope",
            accrual=12,
            population={"overrides": {"decline_mean_per_month": 1.52}},
            eligibility={"duration_months": [None, 18]},
            sources=["https://doi.org/10.1056/NEJMoa1916945"],
        ),
        published=0.42,
        published_text="-1.24 vs -1.66 points/month, difference 0.42 (95% CI 0.03-0.81), P=0.03",
        ci=(0.03, 0.81),
        source="https://scholars.uky.edu/en/publications/trial-of-sodium-phenylbutyrate-taurursodiol-for-amyotrophic-later (N Engl J Med 2020;383:919)",
        role="calibration",
        note="the catalogue DRR 0.747 = 1.24/1.66 comes from this trial; population as "
        "examples/scenarios/centaur_like.yaml",
    ),
    Reproduction(
        id="amx0035-phoenix",
        trial="PHOENIX (sodium phenylbutyrate-taurursodiol, phase 3, 664 patients, 3:2)",
        therapy="amx0035",
        endpoint="ALSFRS-R change at 48 weeks, active minus placebo",
        unit="points",
        metric="slope_points",
        metric_args={"months": 48 * WEEKS},
        scenario=_parallel(
            "phoenix-like",
            "PHOENIX-like 3:2 trial, 48 weeks (duration <= 2 years: assumed)",
            n=664,
            allocation=(3, 2),
            therapy="amx0035",
            followup_weeks=48,
            primary="lmm_slope",
            visit_every_weeks=8,
            accrual=40,
            population={"overrides": {"decline_mean_per_month": 1.3}},
            eligibility={"duration_months": [None, 24]},
            sources=[
                "https://biospace.com/article/amylyx-sheds-more-light-on-relyvrio-s-late-stage-trial-failure-in-als"
            ],
        ),
        published=0.343,
        published_text="-14.98 vs -15.32, difference 0.34, P=0.667",
        ci=_PHOENIX_CI,
        tolerance_kind="derived 95% CI",
        tolerance_note="from the two-sided p=0.667 (SE = 0.343 / z)",
        source="https://biospace.com/article/amylyx-sheds-more-light-on-relyvrio-s-late-stage-trial-failure-in-als",
        known_miss="the catalogue carries CENTAUR's phase-2 effect (DRR 0.75); PHOENIX found none. "
        "One effect cannot reproduce both: the phase-2 estimate was too optimistic (winner's curse / "
        "chance), which a fixed true effect does not represent",
        note="population mean decline 1.3/month, placebo -15.32 points / 11.1 months = 1.38 (derived)",
    ),
    Reproduction(
        id="tofersen-valor-28wk",
        trial="VALOR (tofersen, SOD1-ALS faster-progression subgroup, 60 patients, 2:1)",
        therapy="tofersen",
        endpoint="ALSFRS-R change at 28 weeks, tofersen minus placebo",
        unit="points",
        metric="slope_points",
        metric_args={"months": 28 * WEEKS},
        scenario=_parallel(
            "valor-faster-28wk-like",
            "VALOR-like randomised part, faster-progressing SOD1-ALS, 2:1, 28 weeks",
            n=60,
            allocation=(2, 1),
            therapy="tofersen",
            followup_weeks=28,
            primary="lmm_slope",
            accrual=4,
            population={
                "genotype_probs": {"SOD1": 1.0},
                "genotype_rate_ratio": {"SOD1": 0.9},
            },
            eligibility={"genotype": ["SOD1"], "pre_slope_per_month": [0.7, None]},
            sources=["https://doi.org/10.1056/NEJMoa2204705"],
        ),
        published=1.2,
        published_text="-6.98 vs -8.14, difference 1.2 (95% CI -3.2 to 5.5), P=0.97",
        ci=(-3.2, 5.5),
        source="https://journaljams.org/study/valor-2022.html (N Engl J Med 2022;387:1099)",
        note="faster progression approximated by a pre-baseline DFS >= 0.7/month (VALOR used "
        "variant type and pre-randomisation slope; the exact rule is not in the dossier)",
    ),
    Reproduction(
        id="tofersen-valor-52wk",
        trial="VALOR + open-label extension (tofersen, 108 patients, early vs delayed start)",
        therapy="tofersen",
        endpoint="ALSFRS-R change at 52 weeks, early minus delayed start",
        unit="points",
        metric="ds_difference",
        scenario={
            "alsim": 1,
            "name": "valor-52wk-like",
            "description": "VALOR-like delayed start: SOD1-ALS, 2:1, placebo switches at week 28, 52 weeks",
            "design": "delayed_start",
            "population": {"genotype_probs": {"SOD1": 1.0}, "genotype_rate_ratio": {"SOD1": 0.9}},
            "eligibility": {"genotype": ["SOD1"]},
            "accrual": {"rate_per_month": 4},
            "schedule": {"followup_weeks": 28, "visit_every_weeks": 4, "extension_weeks": 24},
            "regimens": [
                {
                    "name": "tofersen",
                    "n": 108,
                    "allocation": [2, 1],
                    "placebo_switch_months": 6.4615,
                    "product": {"therapy": "tofersen"},
                }
            ],
            "analysis": {"primary": "lmm_slope"},
            "sources": ["https://doi.org/10.1056/NEJMoa2204705"],
        },
        published=3.5,
        published_text="-6.0 early start vs -9.5 delayed start (difference 3.5, no CI published)",
        ci=None,
        tolerance_kind="simulated 95% range",
        tolerance_note="no interval is published: the published value must lie in the central 95% "
        "of the simulated trials' differences",
        source="https://staging.physiciansweekly.com/?p=404749",
        role="calibration",
        note="SOD1 rate ratio 0.9 (mean decline ~0.93/month, derived from the delayed-start arm's "
        "-9.5 over 12 months); the catalogue DRR 0.4 comes from this contrast",
    ),
    Reproduction(
        id="tofersen-valor-nfl",
        trial="VALOR (tofersen): plasma neurofilament light",
        therapy="tofersen",
        endpoint="plasma NfL change at 28 weeks, tofersen (fraction of baseline)",
        unit="%",
        metric="biomarker",
        metric_args={"biomarker": "plasma_nfl_change", "months": 28 * WEEKS},
        scenario={},
        published=math.nan,
        published_text="greater reduction in plasma NfL with tofersen than placebo (magnitude "
        "UNCONFIRMED in the dossier)",
        ci=None,
        tolerance_kind="direction",
        tolerance_note="the simulated change must be a fall (< 0); the magnitude is not an oracle",
        source="https://journaljams.org/study/valor-2022.html",
        note="from the catalogue's biomarker kinetics (plateau -50%, half-time 1.5 months), not "
        "from the disease model: the empirical generator has no NfL",
    ),
    Reproduction(
        id="tofersen-valor-nfl-mechanistic",
        trial="VALOR-like on the mechanistic model (tofersen, 108 SOD1-ALS patients, 2:1)",
        therapy="tofersen",
        endpoint="plasma NfL at 28 weeks, tofersen arm (change from baseline, geometric mean)",
        unit="%",
        metric="valor_mechanistic",
        metric_args={"endpoint": "nfl_fraction_28wk"},
        scenario={},
        published=-50.0,
        published_text="plasma NfL decreased by about 50% with tofersen (secondary source); "
        "-62% (range -36 to -84%) after about 6 months in a clinical case series; -67% by week 148",
        ci=None,
        tolerance_kind="simulated 95% range",
        tolerance_note="no interval is published: -50% must lie in the central 95% of the "
        "simulated trials' values",
        source="https://advances.massgeneral.org/neuro/journal.aspx?id=2365; case series: "
        "https://doi.org/10.1002/mus.27818",
        role="calibration",
        note="the disease model's own NfL (alsim.reproduce.mechanistic): tofersen lowers mutant "
        "SOD1 to 0.63 and a SOD1 carrier's neuron-death hazard by (1 - f) + f S^n; the order n = "
        "params sod1.toxicity_order was set from this result",
    ),
    Reproduction(
        id="tofersen-valor-28wk-mechanistic",
        trial="VALOR-like on the mechanistic model (faster-progressing SOD1-ALS, 60 patients, 2:1)",
        therapy="tofersen",
        endpoint="ALSFRS-R change at 28 weeks, tofersen minus placebo",
        unit="points",
        metric="valor_mechanistic",
        metric_args={"endpoint": "alsfrs_change_28wk_faster"},
        scenario={},
        published=1.2,
        published_text="-6.98 vs -8.14, difference 1.2 (95% CI -3.2 to 5.5), P=0.97",
        ci=(-3.2, 5.5),
        source="https://journaljams.org/study/valor-2022.html (N Engl J Med 2022;387:1099)",
        known_miss="in the model function follows the surviving neurons without delay, so once "
        "tofersen has cut neuron loss (within about 2 months, as NfL shows) function stops "
        "falling; in VALOR function separated only after about a year, NfL first. The model has "
        "no lag between neuron survival and function (e.g. failing compensation by enlarged "
        "motor units), so it puts the functional benefit too early",
        note="faster progression: pre-randomisation ΔFS >= 0.7 points/month",
    ),
    Reproduction(
        id="tofersen-valor-52wk-mechanistic",
        trial="VALOR-like on the mechanistic model (108 SOD1-ALS patients, early vs delayed start)",
        therapy="tofersen",
        endpoint="ALSFRS-R change at 52 weeks, early minus delayed start",
        unit="points",
        metric="valor_mechanistic",
        metric_args={"endpoint": "alsfrs_change_52wk_early_minus_delayed"},
        scenario={},
        published=3.5,
        published_text="-6.0 early start vs -9.5 delayed start (difference 3.5, no CI published)",
        ci=None,
        tolerance_kind="simulated 95% range",
        tolerance_note="no interval is published: the published value must lie in the central "
        "95% of the simulated trials' differences",
        source="https://staging.physiciansweekly.com/?p=404749",
        note="60 of 108 faster-progressing as in VALOR; the placebo group starts tofersen at "
        "week 28",
    ),
    Reproduction(
        id="lenzumestrocel-phase2",
        trial="Lenzumestrocel phase 2 (64 patients, control riluzole only, open label)",
        therapy="lenzumestrocel",
        endpoint="ALSFRS-R change at 6 months, MSC minus control",
        unit="points",
        metric="slope_points",
        metric_args={"months": 6.0},
        scenario=_parallel(
            "lenzumestrocel-phase2-like",
            "Lenzumestrocel phase 2-like 1:1 trial, 6 months (eligibility assumed)",
            n=64,
            allocation=(1, 1),
            therapy="lenzumestrocel",
            followup_weeks=26,
            primary="lmm_slope",
            accrual=4,
            eligibility={"duration_months": [None, 24]},
            sources=["https://pmc.ncbi.nlm.nih.gov/articles/PMC6175096"],
        ),
        published=3.38,
        published_text="+3.38 (95% CI 1.23-5.54) at 6 months, P=0.003 (+2.98 at 4 months)",
        ci=(1.23, 5.54),
        source="https://pmc.ncbi.nlm.nih.gov/articles/PMC6175096 (Ann Neurol 2018;84:361)",
        known_miss="the control arm had no sham procedure (open label), so rater and placebo "
        "effects add to the difference; the sham-controlled phase 3 did not confirm an overall "
        "effect, and the catalogue effect (slow progressors only) is set from that phase 3",
    ),
    Reproduction(
        id="lenzumestrocel-alsummit-slow",
        trial="ALSUMMIT phase 3 (lenzumestrocel, slow-progressor subgroup)",
        therapy="lenzumestrocel",
        endpoint="ALSFRS-R at 12 months, MSC minus sham",
        unit="points",
        metric="slope_points",
        metric_args={"months": 12.0},
        scenario=_parallel(
            "alsummit-slow-like",
            "ALSUMMIT-like slow-progressor subgroup: pre-slope 0.515-1.03/month, ALSFRS-R 31-46, 12 months",
            n=60,
            allocation=(1, 1),
            therapy="lenzumestrocel",
            followup_weeks=52,
            primary="lmm_slope",
            accrual=4,
            eligibility={
                "pre_slope_per_month": [0.515, 1.03],
                "alsfrs_baseline": [31, 46],
                "fvc_percent": [40, None],
                "duration_months": [None, 36],
            },
            sources=["https://trialsjournal.biomedcentral.com/articles/10.1186/s13063-022-06327-4"],
        ),
        published=31.2 - 26.4,
        published_text="31.2 vs 26.4 at 12 months (difference 4.8, p=0.001; company data)",
        ci=_ALSUMMIT_CI,
        tolerance_kind="derived 95% CI",
        tolerance_note="from the two-sided p=0.001 (SE = 4.8 / z); the baseline difference is "
        "not published, so the 12-month difference is read as a change difference",
        source="https://biopharmaapac.com/news/73/6917/corestemchemon-phase-3-alsummit-trial-shows-subgroup-benefit-of-neuronata-r-in-als.html",
        role="calibration",
        note="subgroup size (60) and the slow-progressor rule (pre-slope <= 1.03) are assumptions; "
        "the catalogue DRR 0.6 was chosen with this result",
    ),
    Reproduction(
        id="niv-bourke-2006",
        trial="Bourke 2006 (NIV vs standard care, better bulbar function, n=20)",
        therapy="niv",
        endpoint="median survival, NIV minus standard care",
        unit="days",
        metric="median_gain_days",
        scenario=_parallel(
            "bourke-2006-like",
            "Bourke 2006-like: NIV at orthopnoea/hypercapnia, better bulbar function, survival",
            n=20,
            allocation=(1, 1),
            therapy="niv",
            followup_weeks=156,
            primary="cox",
            visit_every_weeks=13,
            accrual=2,
            population={
                "overrides": {"death_hazard_per_month": 0.1, "dropout_hazard_per_month": 0.0}
            },
            sources=["https://eprints.ncl.ac.uk/72796"],
        ),
        published=205.0,
        published_text="median survival gain 205 days (p=0.006)",
        ci=None,
        tolerance_kind="simulated 95% range",
        tolerance_note="no interval is published: the published value must lie in the central 95% "
        "of the simulated trials' gains",
        source="https://eprints.ncl.ac.uk/72796 (Lancet Neurol 2006;5:140)",
        role="consistency",
        note="both the NIV hazard ratio (0.5) and the control hazard (0.1/month, median about 7 "
        "months after the NIV indication) are assumptions: the empirical model has no "
        "respiratory-failure stage and the control median is not in the dossier",
    ),
)
