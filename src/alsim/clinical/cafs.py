"""CAFS: the Combined Assessment of Function and Survival (Berry et al. 2013).

Berry JD, Miller R, Moore DH, et al. The Combined Assessment of Function and Survival (CAFS): a
new endpoint for ALS clinical trials. Amyotroph Lateral Scler Frontotemporal Degener
2013;14(3):162-168, doi:10.3109/21678421.2012.762930, PMID 23323713. Primary endpoint of the
dexpramipexole phase III trial EMPOWER (NCT01281189).

What the abstract states (verified): CAFS ranks patients' outcomes on survival time and change in
ALSFRS-R; each patient's outcome is compared with every other patient's, the comparison is
scored, the scores are summed per patient and the sums ranked; the mean rank per treatment group
is the summary, and a higher mean rank is a better outcome.

Pairwise rule implemented here, for patients i and j at a fixed analysis time (as commonly
described; the detailed wording of Berry 2013's methods was not reachable, see the docs)::

    both died                   -> the later death wins
    one died, the other alive   -> the survivor wins
    both alive                  -> the larger ALSFRS-R change from baseline wins
                                   (i.e. the smaller decline; change = follow-up - baseline)
    equal outcomes              -> 0 for both

    score(i, j) = +1 if i wins, -1 if j wins, 0 for a tie;   S_i = sum_j score(i, j)

The pairwise rule is a total preorder (every death ranks below every survivor; deaths are ordered
by time, survivors by change), so ``S_i = 2 r_i - (n + 1)`` where ``r_i`` is the average rank of
patient i in that order; the scores therefore sum to zero and ranking the scores with average
ranks for ties (``scipy.stats.rankdata``) returns exactly ``r_i``. :func:`cafs_scores` computes
the scores by explicit pairwise comparison (NumPy broadcasting, in blocks of 256 rows, so each
temporary array holds ``256 x n`` float64 values: 10 MB for n = 5000; 5000 patients take about
a second on a laptop CPU; the full matrix from :func:`cafs_pairwise` is ``n**2`` bytes).

Dropouts and missing ALSFRS-R (Berry 2013's handling UNCONFIRMED): a survivor must have an
ALSFRS-R change at the analysis time. Imputation of the value (e.g. for withdrawals) is the
caller's decision; by default a missing change raises :class:`~alsim.errors.InputError`.
``missing="worst_among_survivors"`` instead ranks survivors without a change below every survivor
with one and above every death (ties among themselves) -- a worst-rank convention in the spirit
of Lachin (Control Clin Trials 1999;20:408), a platform choice. ALS/SURV (Goutman et al.,
ALS-FTD 2019;20:576, doi:10.1080/21678421.2019.1643375) is a published modification of CAFS
that ranks withdrawals at their time of withdrawal relative to those still in the study; it is
not implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

from alsim.clinical.alsfrs import TOTAL_MAX
from alsim.errors import InputError

MissingPolicy = Literal["error", "worst_among_survivors"]
_MISSING_POLICIES = ("error", "worst_among_survivors")
_BLOCK_ROWS = 256


def _validate(
    time_months: Any, died: Any, alsfrs_change: Any, missing: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (death time, died, effective change) arrays; raise InputError on bad input."""
    if missing not in _MISSING_POLICIES:
        raise InputError(
            "missing", f"must be one of {', '.join(_MISSING_POLICIES)}; got {missing!r}"
        )
    arrays = {}
    for name, value in (
        ("time_months", time_months),
        ("died", died),
        ("alsfrs_change", alsfrs_change),
    ):
        arr = np.asarray(value)
        if arr.ndim != 1:
            raise InputError(name, "must be a one-dimensional sequence (one value per patient)")
        arrays[name] = arr
    n = arrays["time_months"].size
    for name in ("died", "alsfrs_change"):
        if arrays[name].size != n:
            raise InputError(
                name, f"must have one value per patient: {arrays[name].size} values for {n}"
            )
    if n < 2:
        raise InputError("time_months", f"need at least 2 patients to compare, got {n}")

    raw_died = arrays["died"]
    if raw_died.dtype == bool:
        dead = raw_died.copy()
    else:
        try:
            as_float = raw_died.astype(float)
        except (TypeError, ValueError):
            raise InputError("died", "must be true/false (or 1/0) for every patient") from None
        if not np.all(np.isin(as_float, (0.0, 1.0))):
            bad = int(np.flatnonzero(~np.isin(as_float, (0.0, 1.0)))[0])
            raise InputError(f"died[{bad}]", f"must be true/false (or 1/0), got {raw_died[bad]!r}")
        dead = as_float == 1.0

    try:
        t = arrays["time_months"].astype(float)
        change = arrays["alsfrs_change"].astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError("time_months/alsfrs_change", f"must be numbers ({exc})") from None

    bad_t = dead & ~(np.isfinite(t) & (t >= 0))
    if np.any(bad_t):
        i = int(np.flatnonzero(bad_t)[0])
        raise InputError(
            f"time_months[{i}]", f"time of death must be a number >= 0 months, got {t[i]!r}"
        )
    alive = ~dead
    finite = np.isfinite(change)
    out_of_range = alive & finite & (np.abs(change) > TOTAL_MAX)
    if np.any(out_of_range):
        i = int(np.flatnonzero(out_of_range)[0])
        raise InputError(f"alsfrs_change[{i}]", f"must lie in -48 to 48, got {change[i]:g}")
    if np.any(alive & np.isinf(change)):
        i = int(np.flatnonzero(alive & np.isinf(change))[0])
        raise InputError(f"alsfrs_change[{i}]", f"must be finite, got {change[i]!r}")
    missing_alive = alive & np.isnan(change)
    if np.any(missing_alive) and missing == "error":
        i = int(np.flatnonzero(missing_alive)[0])
        raise InputError(
            f"alsfrs_change[{i}]",
            "is missing for a survivor; impute it, or pass missing='worst_among_survivors' to "
            "rank survivors without a value below all survivors with one",
        )
    # Effective change for survivors: -inf marks "missing, worst among survivors".
    eff = np.where(missing_alive, -np.inf, change)
    eff = np.where(dead, np.nan, eff)  # unused for deaths
    return np.where(dead, t, np.nan), dead, eff


def _pairwise_block(rows: slice, t: np.ndarray, dead: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Score matrix block: entry (i, j) = +1 if patient i beats j, -1 if j beats i, 0 if tied."""
    di, dj = dead[rows, None], dead[None, :]
    with np.errstate(invalid="ignore"):
        by_death = np.sign(t[rows, None] - t[None, :])  # both died: later death wins
        by_change = np.sign(change[rows, None] - change[None, :])  # both alive
    by_change = np.nan_to_num(by_change, nan=0.0)  # (-inf) - (-inf): both missing, tie
    by_death = np.nan_to_num(by_death, nan=0.0)
    out = np.where(
        di & dj,
        by_death,
        np.where(~di & ~dj, by_change, np.where(di, -1.0, 1.0)),
    )
    return out.astype(np.int8)


def cafs_pairwise(
    time_months: Any,
    died: Any,
    alsfrs_change: Any,
    *,
    missing: MissingPolicy = "error",
) -> np.ndarray:
    """The full ``(n, n)`` CAFS comparison matrix (int8): +1 where row beats column.

    Antisymmetric with a zero diagonal; row sums are :func:`cafs_scores`. Memory is ``n**2``
    bytes (25 MB for 5000 patients); use :func:`cafs_scores` when only the sums are needed.
    Arguments as in :func:`cafs_scores`.
    """
    t, dead, change = _validate(time_months, died, alsfrs_change, missing)
    return _pairwise_block(slice(None), t, dead, change)


def cafs_scores(
    time_months: Any,
    died: Any,
    alsfrs_change: Any,
    *,
    missing: MissingPolicy = "error",
) -> np.ndarray:
    """CAFS pairwise-comparison sums, one per patient (integers as floats; they sum to zero).

    Parameters
    ----------
    time_months:
        Time of death in months (from the common time origin, e.g. randomisation) for patients
        who died by the analysis time; not used for survivors (may be NaN).
    died:
        True (or 1) if the patient died by the analysis time.
    alsfrs_change:
        ALSFRS-R total at the analysis time minus baseline (negative = decline) for survivors;
        ignored for patients who died (may be NaN).
    missing:
        ``"error"`` (default): a survivor without a change raises :class:`InputError`.
        ``"worst_among_survivors"``: such survivors rank below all survivors with a change and
        above all deaths (platform choice, documented in the module docstring).

    Returns
    -------
    numpy.ndarray
        ``S_i = sum_j score(i, j)`` with ``score`` +1 (i better), -1 (i worse), 0 (tie).
        Computed pairwise in blocks of 256 rows (temporaries of ``256 x n`` float64 values).
    """
    t, dead, change = _validate(time_months, died, alsfrs_change, missing)
    n = t.size
    sums = np.empty(n, dtype=np.int64)
    for start in range(0, n, _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, n))
        sums[rows] = _pairwise_block(rows, t, dead, change).sum(axis=1, dtype=np.int64)
    return sums.astype(float)


def cafs_ranks(
    time_months: Any,
    died: Any,
    alsfrs_change: Any,
    *,
    missing: MissingPolicy = "error",
) -> np.ndarray:
    """CAFS ranks: the scores ranked 1..n (1 = worst), ties given their average rank."""
    return rankdata(
        cafs_scores(time_months, died, alsfrs_change, missing=missing), method="average"
    )


@dataclass(frozen=True)
class CafsResult:
    """Two-group CAFS comparison (see :func:`cafs_compare`).

    Attributes
    ----------
    groups:
        ``(reference, comparator)`` group labels.
    n:
        Patients per group, same order.
    mean_rank:
        Mean CAFS rank per group (ranks over the pooled sample), same order.
    difference:
        ``mean_rank[1] - mean_rank[0]`` (positive: comparator better).
    u_statistic:
        Mann-Whitney U of the comparator's scores against the reference's.
    p_value:
        Two-sided Wilcoxon rank-sum / Mann-Whitney p-value.
    scores, ranks:
        Per-patient CAFS scores and ranks, in input order.
    """

    groups: tuple[Any, Any]
    n: tuple[int, int]
    mean_rank: tuple[float, float]
    difference: float
    u_statistic: float
    p_value: float
    scores: np.ndarray
    ranks: np.ndarray


def cafs_compare(
    group: Any,
    time_months: Any,
    died: Any,
    alsfrs_change: Any,
    *,
    reference: Any = None,
    missing: MissingPolicy = "error",
) -> CafsResult:
    """Compare two groups on CAFS: mean rank per group and a rank-sum test.

    Scores and ranks are computed over the pooled sample (both groups together), as in Berry
    2013. The test is the two-sided Wilcoxon rank-sum test (Mann-Whitney U) on the scores,
    ``scipy.stats.mannwhitneyu(..., alternative="two-sided", method="auto")``: exact for small
    samples without ties, otherwise the normal approximation with tie correction and continuity
    correction. Since scores are an increasing function of the ranks, the test is the same on
    either.

    Parameters
    ----------
    group:
        One label per patient; exactly two distinct labels.
    time_months, died, alsfrs_change, missing:
        As in :func:`cafs_scores`.
    reference:
        The reference (e.g. placebo) label; by default the first of the two sorted labels.
    """
    labels = np.asarray(group)
    if labels.ndim != 1:
        raise InputError("group", "must be a one-dimensional sequence (one label per patient)")
    scores = cafs_scores(time_months, died, alsfrs_change, missing=missing)
    if labels.size != scores.size:
        raise InputError(
            "group", f"must have one label per patient: {labels.size} labels for {scores.size}"
        )
    unique = list(np.unique(labels))
    if len(unique) != 2:
        raise InputError("group", f"must contain exactly two distinct labels, got {len(unique)}")
    if reference is not None:
        if reference not in unique:
            raise InputError("reference", f"{reference!r} is not one of the group labels {unique}")
        comparator = unique[1] if unique[0] == reference else unique[0]
        order = (reference, comparator)
    else:
        order = (unique[0], unique[1])
    ranks = rankdata(scores, method="average")
    masks = [labels == g for g in order]
    mean_rank = tuple(float(ranks[m].mean()) for m in masks)
    test = mannwhitneyu(scores[masks[1]], scores[masks[0]], alternative="two-sided", method="auto")
    return CafsResult(
        groups=(_plain(order[0]), _plain(order[1])),
        n=(int(masks[0].sum()), int(masks[1].sum())),
        mean_rank=(mean_rank[0], mean_rank[1]),
        difference=mean_rank[1] - mean_rank[0],
        u_statistic=float(test.statistic),
        p_value=float(test.pvalue),
        scores=scores,
        ranks=ranks,
    )


def _plain(label: Any) -> Any:
    """NumPy scalar -> Python scalar (for readable results)."""
    return label.item() if isinstance(label, np.generic) else label
