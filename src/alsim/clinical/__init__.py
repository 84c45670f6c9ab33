"""The clinical toolkit: published instruments implemented to the letter, with their sources.

The simulator scores virtual patients with these same functions a clinician uses on a real one.
"""

from alsim.clinical.alsfrs import (
    ALSFRSR,
    DOMAINS,
    ITEM_COLUMNS,
    VISIT_ITEM_COLUMNS,
    ALSFRSOriginal,
    domain_scores,
    total_score,
    validate_item_array,
)
from alsim.clinical.progression import (
    OnsetConvention,
    ProgressionCategories,
    delta_fs,
    months_between,
    progression_category,
)
from alsim.clinical.staging import (
    KingsStage,
    kings_label_array,
    kings_stage,
    kings_stage_array,
    mitos_domains_lost,
    mitos_stage,
    mitos_stage_array,
)

__all__ = [
    "ALSFRSR",
    "DOMAINS",
    "ITEM_COLUMNS",
    "VISIT_ITEM_COLUMNS",
    "ALSFRSOriginal",
    "KingsStage",
    "OnsetConvention",
    "ProgressionCategories",
    "delta_fs",
    "domain_scores",
    "kings_label_array",
    "kings_stage",
    "kings_stage_array",
    "mitos_domains_lost",
    "mitos_stage",
    "mitos_stage_array",
    "months_between",
    "progression_category",
    "total_score",
    "validate_item_array",
]
