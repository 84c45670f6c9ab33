"""Names and codes shared by the mechanistic model, cohorts and their tables.

Categorical arrays are stored as small integer codes inside the engine; tables use the names.
"""

from __future__ import annotations

GENOTYPES: tuple[str, ...] = ("sporadic", "SOD1", "C9orf72", "TARDBP", "FUS")
SPORADIC, SOD1, C9ORF72, TARDBP, FUS = range(5)

ANCESTRIES: tuple[str, ...] = ("european", "east_asian")

#: Body regions, rostral to caudal along the neuraxis. "trunk" holds the respiratory pools
#: (phrenic and intercostal motor neurons) and the axial muscles.
REGIONS: tuple[str, ...] = ("bulbar", "upper_limb", "trunk", "lower_limb")
BULBAR, UPPER_LIMB, TRUNK, LOWER_LIMB = range(4)

#: Motor-neuron pools: upper (cortical) and lower (brainstem/spinal) motor neurons per region.
NEURON_TYPES: tuple[str, ...] = ("umn", "lmn")
UMN, LMN = range(2)

#: The five pathological pathways of the vicious cycle.
PATHWAYS: tuple[str, ...] = (
    "misfolding",
    "mitochondrial",
    "transport",
    "inflammation",
    "excitotoxicity",
)
MISFOLDING, MITOCHONDRIAL, TRANSPORT, INFLAMMATION, EXCITOTOXICITY = range(5)

SEXES: tuple[str, ...] = ("female", "male")

N_REGIONS = len(REGIONS)
N_POOLS = len(NEURON_TYPES) * N_REGIONS
N_PATHWAYS = len(PATHWAYS)


def pool_index(neuron_type, region):
    """Index of the pool (UMN pools 0-3, then LMN pools 4-7, regions in REGIONS order)."""
    return neuron_type * N_REGIONS + region


POOL_NAMES: tuple[str, ...] = tuple(
    f"{kind}_{region}" for kind in NEURON_TYPES for region in REGIONS
)
