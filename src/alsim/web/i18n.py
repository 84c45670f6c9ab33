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
