"""Diagnostic criteria for ALS as rule sets: revised El Escorial, Awaji-shima, Gold Coast.

Sources
-------
* Revised El Escorial / Airlie House: Brooks BR, Miller RG, Swash M, Munsat TL. El Escorial
  revisited: revised criteria for the diagnosis of amyotrophic lateral sclerosis. Amyotroph
  Lateral Scler Other Motor Neuron Disord 2000;1:293-299. Category wording checked against
  reproductions of the text (medicalcriteria.com; PMC3723705 Table 1; PMC2656493 Table 1).
* Awaji-shima: de Carvalho M, Dengler R, Eisen A, et al. Electrodiagnostic criteria for diagnosis
  of ALS. Clin Neurophysiol 2008;119:497-503 (EMG evidence of LMN degeneration counts the same as
  clinical LMN signs; the laboratory-supported category is abolished).
* Gold Coast: Shefner JM, Al-Chalabi A, Baker MR, et al. A proposal for new diagnostic criteria
  for ALS. Clin Neurophysiol 2020;131:1975-1978; Box 1 as reproduced by Turner, Pract Neurol 2022
  (doi:10.1136/practneurol-2021-003256).

Input
-----
Findings are recorded per body region -- ``bulbar`` (cranial), ``cervical``, ``thoracic``,
``lumbosacral`` -- as :class:`RegionFindings` (clinical UMN signs, clinical LMN signs, EMG
evidence of LMN degeneration), plus three whole-patient flags in :class:`Findings`:
``progressive`` (progressive spread / progressive motor impairment), ``mimics_excluded``
(investigations exclude other disease) and ``normal_motor_function_before`` (Gold Coast).
"Rostral" order is bulbar > cervical > thoracic > lumbosacral.

Notation below: U = regions with clinical UMN signs; L = regions with clinical LMN signs;
E = regions with EMG LMN evidence; "u above l" means region u is strictly rostral to region l.

Revised El Escorial (:func:`revised_el_escorial`), first match wins; prerequisites
``progressive`` and ``mimics_excluded``, otherwise ``"not_met"``:

1. ``definite``: UMN and clinical LMN signs together in >= 3 regions (|U ∩ L| >= 3).
2. ``probable``: some UMN signs rostral to clinical LMN signs (some u in U above some l in L).
3. ``probable_lab_supported``: UMN signs in >= 1 region and EMG LMN evidence in >= 2 regions.
4. ``possible``: UMN and LMN together in one region, or UMN signs alone in >= 2 regions, or LMN
   signs rostral to UMN signs. Given 2 fails, the first and last reduce to "U and L both
   non-empty", so the rule is: |U| >= 2 or (U and L non-empty).
5. ``suspected``: any other motor-neuron finding (a pure LMN syndrome, clinical or EMG; UMN in a
   single region only). Not a diagnosis; used to exclude patients from research.
6. ``not_met``: no UMN or LMN finding at all.

Reading chosen for "UMN and LMN signs in at least two regions" (clinical-instruments.md §7.4,
case D5): UMN and LMN regions are counted *separately* and the rostrality clause decides; UMN in
bulbar plus LMN in lumbosacral only is ``probable``. Reason: Brooks 2000 says "together" only for
the one-region case ("clinical signs of UMN and LMN dysfunction are found together in only one
region"), and if both signs had to sit in each counted region, the clause "some UMN signs
necessarily rostral to (above) the LMN signs" would always hold and mean nothing; the same text
makes "LMN signs rostral to UMN signs" a separate, lower pattern (the cervical myelopathy
pattern), and the PMC2656493 summary lists "UMN and LMN signs in 2 regions with no UMN signs
rostral to LMN signs" under *possible*. ``definite`` ("UMN, as well as LMN signs, in three
regions") is read as both signs in each of three regions, as in the 1994 El Escorial wording
("LMN as well as UMN signs in the bulbar region and at least two spinal regions").

Awaji-shima (:func:`awaji`): the same rules with LMN evidence L' = L ∪ E (clinical or EMG) and no
laboratory-supported category: ``definite`` |U ∩ L'| >= 3; ``probable`` some u above some l in
L'; ``possible`` |U| >= 2 or (U and L' non-empty); otherwise ``not_met`` (Awaji has no
"suspected" category). Fasciculation potentials counting as denervation (Awaji's other change)
is an input-level matter: record it in ``lmn_emg``.

Gold Coast (:func:`gold_coast`), all three required:

1. ``progressive`` and ``normal_motor_function_before``;
2. UMN and LMN dysfunction together in at least one region, or LMN dysfunction in at least two
   regions (LMN by clinical examination or EMG; UMN in one region and LMN in a *different* single
   region does not qualify);
3. ``mimics_excluded``.

Every category predicate above is monotone (adding a finding never removes it), so adding
findings never lowers a category; the tests check this with hypothesis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from alsim.errors import InputError
from alsim.validation import as_bool

#: Body regions from rostral to caudal.
REGIONS: tuple[str, str, str, str] = ("bulbar", "cervical", "thoracic", "lumbosacral")
_RANK = {name: i for i, name in enumerate(REGIONS)}

#: Revised El Escorial categories from most to least certain.
EL_ESCORIAL_CATEGORIES: tuple[str, ...] = (
    "definite",
    "probable",
    "probable_lab_supported",
    "possible",
    "suspected",
    "not_met",
)
#: Awaji-shima categories from most to least certain.
AWAJI_CATEGORIES: tuple[str, ...] = ("definite", "probable", "possible", "not_met")

_REGION_FLAGS = ("umn", "lmn_clinical", "lmn_emg")
_PATIENT_FLAGS = ("progressive", "mimics_excluded", "normal_motor_function_before")


@dataclass(frozen=True)
class RegionFindings:
    """Findings in one body region.

    Attributes
    ----------
    umn:
        Clinical signs of upper motor neuron dysfunction (e.g. clonus, Babinski sign, hypertonia,
        pathologically brisk reflexes, loss of dexterity).
    lmn_clinical:
        Clinical signs of lower motor neuron dysfunction (weakness, wasting).
    lmn_emg:
        EMG evidence of lower motor neuron degeneration (chronic neurogenic change with ongoing
        denervation; under Awaji fasciculation potentials count as denervation).
    """

    umn: bool = False
    lmn_clinical: bool = False
    lmn_emg: bool = False

    def __post_init__(self) -> None:
        for name in _REGION_FLAGS:
            object.__setattr__(self, name, as_bool(getattr(self, name), name, allow_strings=False))

    @property
    def lmn_any(self) -> bool:
        """LMN evidence by clinical examination or EMG."""
        return self.lmn_clinical or self.lmn_emg

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | RegionFindings, *, where: str
    ) -> RegionFindings:
        """Build from ``{"umn": ..., "lmn_clinical": ..., "lmn_emg": ...}`` (missing keys False)."""
        if isinstance(data, RegionFindings):
            return data
        if not isinstance(data, Mapping):
            raise InputError(
                where, f"must be a mapping of {', '.join(_REGION_FLAGS)}, got {data!r}"
            )
        for key in data:
            if key not in _REGION_FLAGS:
                raise InputError(
                    f"{where}.{key}", f"unknown finding; expected one of {', '.join(_REGION_FLAGS)}"
                )
        return cls(**{k: as_bool(v, f"{where}.{k}", allow_strings=False) for k, v in data.items()})


@dataclass(frozen=True, kw_only=True)
class Findings:
    """All findings for one patient: four regions plus three whole-patient flags.

    The three flags have no default: a criterion is met only when the user has asserted its
    prerequisites. Build from plain data with :meth:`from_mapping`.
    """

    bulbar: RegionFindings = field(default_factory=RegionFindings)
    cervical: RegionFindings = field(default_factory=RegionFindings)
    thoracic: RegionFindings = field(default_factory=RegionFindings)
    lumbosacral: RegionFindings = field(default_factory=RegionFindings)
    progressive: bool
    mimics_excluded: bool
    normal_motor_function_before: bool

    def __post_init__(self) -> None:
        for name in REGIONS:
            value = getattr(self, name)
            if not isinstance(value, RegionFindings):
                object.__setattr__(self, name, RegionFindings.from_mapping(value, where=name))
        for name in _PATIENT_FLAGS:
            object.__setattr__(self, name, as_bool(getattr(self, name), name, allow_strings=False))

    @property
    def regions(self) -> dict[str, RegionFindings]:
        """Region name -> findings, rostral to caudal."""
        return {name: getattr(self, name) for name in REGIONS}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Findings:
        """Build from a mapping: region names -> finding mappings, plus the three flags.

        Example: ``{"cervical": {"umn": True, "lmn_clinical": True}, "progressive": True,
        "mimics_excluded": True, "normal_motor_function_before": True}``. Regions not given have
        no findings; unknown keys raise :class:`InputError` naming the key.
        """
        if isinstance(data, Findings):
            return data
        if not isinstance(data, Mapping):
            raise InputError("findings", f"must be a mapping, got {type(data).__name__}")
        known = set(REGIONS) | set(_PATIENT_FLAGS)
        for key in data:
            if key not in known:
                raise InputError(
                    str(key),
                    f"unknown key; regions are {', '.join(REGIONS)} and flags are "
                    f"{', '.join(_PATIENT_FLAGS)}",
                )
        for flag in _PATIENT_FLAGS:
            if flag not in data:
                raise InputError(flag, "is required (true or false)")
        kwargs: dict[str, Any] = {
            name: RegionFindings.from_mapping(data[name], where=name)
            for name in REGIONS
            if name in data
        }
        kwargs.update(
            {flag: as_bool(data[flag], flag, allow_strings=False) for flag in _PATIENT_FLAGS}
        )
        return cls(**kwargs)


def _coerce(findings: Findings | Mapping[str, Any]) -> Findings:
    return findings if isinstance(findings, Findings) else Findings.from_mapping(findings)


def _sets(f: Findings) -> tuple[list[str], list[str], list[str]]:
    regions = f.regions
    umn = [r for r in REGIONS if regions[r].umn]
    lmn = [r for r in REGIONS if regions[r].lmn_clinical]
    emg = [r for r in REGIONS if regions[r].lmn_emg]
    return umn, lmn, emg


def _rostral_pair(upper: list[str], lower: list[str]) -> tuple[str, str] | None:
    """First (u, l) with u in ``upper`` strictly rostral to l in ``lower``, else None."""
    for u in upper:
        for low in lower:
            if _RANK[u] < _RANK[low]:
                return u, low
    return None


def _join(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _prerequisites(f: Findings) -> str | None:
    if not f.progressive:
        return "not progressive (progressive spread is required)"
    if not f.mimics_excluded:
        return "other diseases not excluded (required)"
    return None


def _el_escorial(f: Findings) -> tuple[str, str]:
    missing = _prerequisites(f)
    if missing:
        return "not_met", missing
    umn, lmn, emg = _sets(f)
    both = [r for r in umn if r in lmn]
    if len(both) >= 3:
        return "definite", f"UMN and LMN signs together in 3+ regions ({_join(both)})"
    pair = _rostral_pair(umn, lmn)
    if pair:
        return "probable", (
            f"UMN and LMN signs in 2+ regions with UMN signs ({pair[0]}) rostral to LMN signs "
            f"({pair[1]})"
        )
    if umn and len(emg) >= 2:
        return "probable_lab_supported", (
            f"UMN signs ({_join(umn)}) with EMG evidence of LMN degeneration in 2+ regions "
            f"({_join(emg)})"
        )
    if len(umn) >= 2:
        return "possible", f"UMN signs alone in 2+ regions ({_join(umn)})"
    if umn and lmn:
        if both:
            return "possible", f"UMN and LMN signs together in only one region ({both[0]})"
        return "possible", (
            f"LMN signs ({_join(lmn)}) rostral to UMN signs ({_join(umn)}), none rostral to LMN"
        )
    if (lmn or emg) and not umn:
        return "suspected", (
            f"pure LMN syndrome (clinical: {_join(lmn)}; EMG: {_join(emg)}), no UMN signs"
        )
    if umn:
        return "suspected", (
            f"UMN signs in one region only ({_join(umn)}); LMN evidence insufficient "
            f"(clinical: {_join(lmn)}; EMG: {_join(emg)})"
        )
    return "not_met", "no UMN or LMN findings"


def _awaji(f: Findings) -> tuple[str, str]:
    missing = _prerequisites(f)
    if missing:
        return "not_met", missing
    regions = f.regions
    umn = [r for r in REGIONS if regions[r].umn]
    lmn = [r for r in REGIONS if regions[r].lmn_any]
    both = [r for r in umn if r in lmn]
    if len(both) >= 3:
        return "definite", (
            f"UMN and LMN (clinical or EMG) evidence together in 3+ regions ({_join(both)})"
        )
    pair = _rostral_pair(umn, lmn)
    if pair:
        return "probable", (
            f"UMN and LMN (clinical or EMG) evidence in 2+ regions with UMN signs ({pair[0]}) "
            f"rostral to LMN evidence ({pair[1]})"
        )
    if len(umn) >= 2:
        return "possible", f"UMN signs alone in 2+ regions ({_join(umn)})"
    if umn and lmn:
        if both:
            return "possible", f"UMN and LMN evidence together in only one region ({both[0]})"
        return "possible", f"LMN evidence ({_join(lmn)}) rostral to UMN signs ({_join(umn)})"
    if not umn:
        return "not_met", (
            "no UMN signs" + (f" (LMN evidence in {_join(lmn)})" if lmn else " or LMN evidence")
        )
    return "not_met", f"UMN signs in one region only ({_join(umn)}) and no LMN evidence"


def _gold_coast(f: Findings) -> tuple[bool, str]:
    if not f.progressive:
        return False, "requirement 1 fails: motor impairment not progressive"
    if not f.normal_motor_function_before:
        return False, "requirement 1 fails: not preceded by normal motor function"
    regions = f.regions
    lmn = [r for r in REGIONS if regions[r].lmn_any]
    both = [r for r in REGIONS if regions[r].umn and regions[r].lmn_any]
    if both:
        requirement2 = f"UMN and LMN dysfunction in the same region ({both[0]})"
    elif len(lmn) >= 2:
        requirement2 = f"LMN dysfunction in 2+ regions ({_join(lmn)})"
    else:
        return False, (
            "requirement 2 fails: no region with both UMN and LMN dysfunction, and LMN "
            f"dysfunction in fewer than 2 regions ({_join(lmn)})"
        )
    if not f.mimics_excluded:
        return False, "requirement 3 fails: other disease processes not excluded"
    return True, f"all three requirements met; {requirement2}"


def revised_el_escorial(findings: Findings | Mapping[str, Any]) -> str:
    """Revised El Escorial (Brooks 2000) category: one of :data:`EL_ESCORIAL_CATEGORIES`.

    ``"definite"``, ``"probable"``, ``"probable_lab_supported"``, ``"possible"``,
    ``"suspected"`` or ``"not_met"``, evaluated in that order (first match); rules in the module
    docstring. ``findings`` is a :class:`Findings` or a mapping for :meth:`Findings.from_mapping`.
    """
    return _el_escorial(_coerce(findings))[0]


def awaji(findings: Findings | Mapping[str, Any]) -> str:
    """Awaji-shima (de Carvalho 2008) category: ``"definite"``, ``"probable"``, ``"possible"``
    or ``"not_met"``; EMG LMN evidence counts the same as clinical LMN signs."""
    return _awaji(_coerce(findings))[0]


def gold_coast(findings: Findings | Mapping[str, Any]) -> bool:
    """Gold Coast criteria (Shefner 2020): ``True`` when all three requirements are met."""
    return _gold_coast(_coerce(findings))[0]


@dataclass(frozen=True)
class CriteriaResult:
    """The three frameworks applied to one patient, each with the rule that decided it."""

    revised_el_escorial: str
    revised_el_escorial_reason: str
    awaji: str
    awaji_reason: str
    gold_coast: bool
    gold_coast_reason: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON, tables)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def classify_all(findings: Findings | Mapping[str, Any]) -> CriteriaResult:
    """Apply revised El Escorial, Awaji-shima and Gold Coast; each with a one-line reason."""
    f = _coerce(findings)
    eec, eec_reason = _el_escorial(f)
    awj, awj_reason = _awaji(f)
    gcc, gcc_reason = _gold_coast(f)
    return CriteriaResult(
        revised_el_escorial=eec,
        revised_el_escorial_reason=eec_reason,
        awaji=awj,
        awaji_reason=awj_reason,
        gold_coast=gcc,
        gold_coast_reason=gcc_reason,
    )
