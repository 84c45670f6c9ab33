"""Clinical staging estimated from ALSFRS-R: King's (Balendra 2014) and MiToS (Chiò 2015).

King's clinical staging (Roche et al., Brain 2012;135:847-852) counts involved CNS regions
(stages 1-3), then 4A need for gastrostomy, 4B need for non-invasive ventilation, 5 death.
Balendra et al. (ALS-FTD 2014;15:279-284, doi:10.3109/21678421.2014.897357) estimate it from
ALSFRS-R items. The item rules implemented here are those of two independent public
implementations that cite Balendra (the paper's table itself could not be retrieved; see
docs/clinical.md, "What was verified"):

* bulbar region involved       if any of items 1-3 < 4;
* upper-limb region involved   if item 4 < 4 or item 5 (5a or 5b) < 4;
* lower-limb region involved   if item 8 (walking) < 4 (items 7 and 9 are *not* used);
* stage = number of regions involved (0-3);
* 4A (nutritional failure)     if item 5 was scored on scale 5b (gastrostomy);
* 4B (respiratory failure)     if item 10 (dyspnoea) = 0 or item 12 < 4 (any ventilatory support);
* 5                            death.

An ALSFRS-R with no involved region gives stage 0 (some pipelines map it to 1; alsim reports 0
and says so). When 4A and 4B both apply the label is ``"4A+4B"``.

MiToS (Chiò et al., JNNP 2015;86:38-44, Table 1): a domain is *lost* when

* movement:      item 8 walking <= 1 OR item 6 dressing/hygiene <= 1;
* swallowing:    item 3 <= 1;
* communicating: item 1 speech <= 1 AND item 4 handwriting <= 1 (AND, not OR: several public
  scripts get this wrong);
* breathing:     item 10 dyspnoea <= 1 OR item 12 respiratory insufficiency <= 2.

MiToS stage = number of domains lost (0-4), 5 = death.

Both stages are computed by array functions over items of shape ``(..., 12)``; the scalar
functions taking an :class:`~alsim.clinical.alsfrs.ALSFRSR` call them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsim.clinical.alsfrs import ALSFRSR, validate_item_array

KINGS_LABELS = ("0", "1", "2", "3", "4A", "4B", "4A+4B", "5")


@dataclass(frozen=True)
class KingsStage:
    """A King's stage with its components."""

    regions: int  # number of regions involved, 0-3
    nutritional_failure: bool  # 4A
    respiratory_failure: bool  # 4B
    dead: bool = False

    @property
    def stage(self) -> int:
        """The numeric stage 0-5 (4 for 4A, 4B or both)."""
        if self.dead:
            return 5
        if self.nutritional_failure or self.respiratory_failure:
            return 4
        return self.regions

    @property
    def label(self) -> str:
        """``"0"``-``"3"``, ``"4A"``, ``"4B"``, ``"4A+4B"`` or ``"5"``."""
        if self.dead:
            return "5"
        if self.nutritional_failure and self.respiratory_failure:
            return "4A+4B"
        if self.nutritional_failure:
            return "4A"
        if self.respiratory_failure:
            return "4B"
        return str(self.regions)

    def __str__(self) -> str:
        return self.label


def kings_components(items, gastrostomy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """King's components for item arrays ``(..., 12)`` and gastrostomy flags ``(...)``.

    Returns ``(regions, nutritional_failure, respiratory_failure)``.
    """
    arr = validate_item_array(items)
    gastro = np.asarray(gastrostomy, dtype=bool)
    bulbar = (arr[..., 0:3] < 4).any(axis=-1)
    upper_limb = (arr[..., 3] < 4) | (arr[..., 4] < 4)
    lower_limb = arr[..., 7] < 4
    regions = bulbar.astype(np.int8) + upper_limb + lower_limb
    respiratory_failure = (arr[..., 9] == 0) | (arr[..., 11] < 4)
    return (
        regions.astype(np.int8),
        np.broadcast_to(gastro, regions.shape).copy(),
        respiratory_failure,
    )


def kings_stage_array(items, gastrostomy, dead=False) -> np.ndarray:
    """Numeric King's stage 0-5 (4 for 4A and/or 4B) for item arrays of shape ``(..., 12)``."""
    regions, nutritional, respiratory = kings_components(items, gastrostomy)
    stage = np.where(nutritional | respiratory, 4, regions)
    return np.where(np.asarray(dead, dtype=bool), 5, stage).astype(np.int8)


def kings_label_array(items, gastrostomy, dead=False) -> np.ndarray:
    """King's stage labels (see :data:`KINGS_LABELS`) for item arrays of shape ``(..., 12)``."""
    regions, nutritional, respiratory = kings_components(items, gastrostomy)
    labels = np.asarray(KINGS_LABELS[:4], dtype=object)[regions]
    labels = np.where(nutritional, "4A", labels)
    labels = np.where(respiratory, "4B", labels)
    labels = np.where(nutritional & respiratory, "4A+4B", labels)
    return np.where(np.asarray(dead, dtype=bool), "5", labels).astype(object)


def kings_stage(score: ALSFRSR, *, dead: bool = False) -> KingsStage:
    """King's stage estimated from one ALSFRS-R assessment (Balendra 2014 rules)."""
    regions, nutritional, respiratory = kings_components(score.as_array(), score.gastrostomy)
    return KingsStage(int(regions), bool(nutritional), bool(respiratory), dead=bool(dead))


MITOS_DOMAINS = ("movement", "swallowing", "communicating", "breathing")


def mitos_domains_lost(items) -> dict[str, np.ndarray]:
    """Which MiToS domains are lost, for item arrays of shape ``(..., 12)``."""
    arr = validate_item_array(items)
    return {
        "movement": (arr[..., 7] <= 1) | (arr[..., 5] <= 1),
        "swallowing": arr[..., 2] <= 1,
        "communicating": (arr[..., 0] <= 1) & (arr[..., 3] <= 1),
        "breathing": (arr[..., 9] <= 1) | (arr[..., 11] <= 2),
    }


def mitos_stage_array(items, dead=False) -> np.ndarray:
    """MiToS stage 0-5 for item arrays of shape ``(..., 12)``."""
    lost = mitos_domains_lost(items)
    stage = sum(v.astype(np.int8) for v in lost.values())
    return np.where(np.asarray(dead, dtype=bool), 5, stage).astype(np.int8)


def mitos_stage(score: ALSFRSR, *, dead: bool = False) -> int:
    """MiToS stage (0-5) of one ALSFRS-R assessment (Chiò 2015)."""
    return int(mitos_stage_array(score.as_array(), dead))
