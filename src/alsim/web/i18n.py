"""Translations for the web pages: English and Simplified Chinese.

The catalogues are YAML files in ``web/locales`` (``en.yaml``, ``zh.yaml``), nested mappings
whose leaves are strings; a key is the dotted path to a leaf (``"visit.total"``). Both
catalogues must have exactly the same keys (a test checks it, and every key the templates and
the Python code use). :func:`t` formats the text with ``str.format`` keyword arguments.

A key missing from the English catalogue is a programming error (:class:`KeyError`); a key
missing from another language falls back to English and is logged, so a page still renders if a
catalogue was edited carelessly (the test suite fails on it).
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("alsim.web.i18n")

LANGUAGES: tuple[str, ...] = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
#: The value of the ``lang`` attribute of ``<html>`` per language.
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
LOCALES_DIR = Path(__file__).with_name("locales")


def _flatten(tree: Any, prefix: str, out: dict[str, str], source: str) -> None:
    if not isinstance(tree, dict):
        raise ValueError(f"{source}: {prefix or 'top level'} must be a mapping")
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            _flatten(value, path, out, source)
        elif isinstance(value, str):
            out[path] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[path] = str(value)
        else:
            raise ValueError(f"{source}: {path} must be text, got {type(value).__name__}")


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """The flat ``key -> text`` catalogue of ``lang`` (cached)."""
    if lang not in LANGUAGES:
        raise KeyError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    path = LOCALES_DIR / f"{lang}.yaml"
    tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, str] = {}
    _flatten(tree, "", out, path.name)
    return out


def has(lang: str, key: str) -> bool:
    return key in catalogue(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def t(lang: str, key: str, /, **fmt: Any) -> str:
    """The text of ``key`` in ``lang`` (``en`` if ``lang`` is unknown), formatted with ``fmt``."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    texts = catalogue(lang)
    text = texts.get(key)
    if text is None:
        if key not in catalogue(DEFAULT_LANGUAGE):
            raise KeyError(f"no translation key {key!r}")
        log.warning("translation %r missing in %s; using English", key, lang)
        text = catalogue(DEFAULT_LANGUAGE)[key]
    return text.format(**fmt) if fmt else text


def t_opt(lang: str, key: str, default: str, /, **fmt: Any) -> str:
    """Like :func:`t` for keys made from data (a genotype, a stage): ``default`` if unknown."""
    return t(lang, key, **fmt) if has(DEFAULT_LANGUAGE, key) else default


#: Messages of :mod:`alsim.clinical.record` (reasons and warnings, English text as in gettext's
#: message ids) -> the catalogue key that translates them; named groups become the key's
#: placeholders. A message that matches no pattern is shown as it is.
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"cannot compute ΔFS because no visit has a complete ALSFRS-R", "message.dfs_no_score"),
        (r"cannot compute ΔFS because the onset date is missing", "message.dfs_no_onset"),
        (
            r"cannot compute ΔFS because the latest scored visit is not after onset",
            "message.dfs_not_after_onset",
        ),
        (r"cannot fit D50 because no visit has a complete ALSFRS-R", "message.d50_no_score"),
        (r"cannot fit D50 because the onset date is missing", "message.d50_no_onset"),
        (
            r"cannot fit D50 because at least 2 scored visits after symptom onset are needed, "
            r"got (?P<n>\d+)",
            "message.d50_too_few",
        ),
        (r"cannot fit D50: (?P<err>.+)", "message.d50_failed"),
        (
            r"cannot compute ENCALS because the diagnosis is not after symptom onset",
            "message.encals_diagnosis_before_onset",
        ),
        (r"cannot compute ENCALS: (?P<err>.+)", "message.encals_failed"),
        (
            r"ENCALS: the (?P<what>ΔFS|FVC) used comes from (?P<date>[\d-]+), "
            r"(?P<gap>[\d.]+) months from diagnosis \(the model expects values at diagnosis\)",
            "message.encals_far_from_diagnosis",
        ),
        (r"ENCALS: no conditional survival \((?P<err>.+)\)", "message.encals_no_conditional"),
        (r"the onset date lies in the future", "message.onset_future"),
        (r"the diagnosis date is before the onset date", "message.diagnosis_before_onset"),
        (r"the diagnosis date lies in the future", "message.diagnosis_future"),
        (r"the birth year lies in the future", "message.birth_future"),
        (r"the birth year is after the onset date", "message.birth_after_onset"),
        (r"some visits are dated after today", "message.visits_future"),
        (
            r"visit (?P<date>[\d-]+): ALSFRS-R incomplete \((?P<n>\d+) of 12 items missing\), "
            r"not scored",
            "message.visit_incomplete",
        ),
        (
            r"visit (?P<date>[\d-]+) is not after symptom onset: no ΔFS",
            "message.visit_before_onset",
        ),
        (r"visit (?P<date>[\d-]+): (?P<err>.+); not scored", "message.visit_invalid"),
        (r"genotype (?P<genotype>'[^']*') is not one of (?P<known>.+)", "message.genotype_unknown"),
    )
)


def message(lang: str, text: str) -> str:
    """``text``, a reason or warning of the clinical record, in ``lang`` (as it is if unknown)."""
    for pattern, key in MESSAGES:
        match = pattern.fullmatch(text)
        if match:
            return t(lang, key, **match.groupdict())
    return text
