"""The translation catalogues: same keys in every language, every used key exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alsim.web import i18n

WEB = Path(i18n.__file__).parent
#: t("key") / t('key') / tr(request, "key") / i18n.t(lang, "key") with a literal key.
LITERAL = re.compile(
    r"""\b(?:t|tr|t_opt)\(\s*(?:[A-Za-z_][\w.]*\s*,\s*)?["']([A-Za-z_][\w.]*)["']\s*[,)]"""
)
#: t("prefix." ~ value) in templates: a key family chosen by data.
PREFIX = re.compile(r"""\b(?:t|t_opt)\(\s*["']([A-Za-z_][\w.]*\.)["']\s*~""")


def sources() -> list[Path]:
    files = sorted((WEB / "templates").glob("*.html"))
    files += [
        WEB / name for name in ("pages.py", "render.py", "research.py") if (WEB / name).exists()
    ]
    return files


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in sources():
        keys.update(LITERAL.findall(path.read_text(encoding="utf-8")))
    return keys


def test_languages() -> None:
    assert i18n.LANGUAGES == ("en", "zh")


def test_catalogues_have_the_same_keys() -> None:
    en, zh = set(i18n.catalogue("en")), set(i18n.catalogue("zh"))
    assert sorted(en - zh) == [], "keys missing in zh.yaml"
    assert sorted(zh - en) == [], "keys missing in en.yaml"


def test_no_empty_or_untranslated_long_texts() -> None:
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    assert all(text.strip() for text in en.values())
    assert all(text.strip() for text in zh.values())
    # a long English sentence copied into zh.yaml unchanged is an untranslated text
    same = [k for k, v in en.items() if len(v) > 40 and zh[k] == v]
    assert same == []


def test_format_fields_match() -> None:
    field = re.compile(r"{(\w+)}")
    en, zh = i18n.catalogue("en"), i18n.catalogue("zh")
    for key, text in en.items():
        assert set(field.findall(text)) == set(field.findall(zh[key])), key


def test_every_literal_key_used_exists() -> None:
    keys = used_keys()
    assert len(keys) > 100  # the scanner finds the keys (guards against a broken pattern)
    missing = sorted(k for k in keys if k not in i18n.catalogue("en"))
    assert missing == []


def test_every_key_family_used_exists() -> None:
    catalogue = i18n.catalogue("en")
    for path in sources():
        for prefix in PREFIX.findall(path.read_text(encoding="utf-8")):
            assert any(key.startswith(prefix) for key in catalogue), (path.name, prefix)


def test_choice_values_are_translated() -> None:
    from alsim.clinical.prognosis import risk_group_bands
    from alsim.web import schemas

    families = {
        "choice.sex": schemas.SEXES,
        "choice.onset_region": schemas.ONSET_REGIONS,
        "choice.genotype": schemas.GENOTYPES,
        "choice.el_escorial": schemas.EL_ESCORIAL,
        "choice.nfl_matrix": schemas.NFL_MATRICES,
        "group": [band["name"] for band in risk_group_bands()],
        "category": ("slow", "intermediate", "fast"),
        "phase": ("I", "II", "III", "IV"),
        "domain": ("bulbar", "fine_motor", "gross_motor", "respiratory"),
    }
    for lang in i18n.LANGUAGES:
        for family, values in families.items():
            for value in values:
                assert i18n.has(lang, f"{family}.{value}"), (lang, family, value)


def test_alsfrs_items_have_all_five_answers() -> None:
    for lang in i18n.LANGUAGES:
        for item in (*(f"q{i}" for i in range(1, 13) if i != 5), "q5a", "q5b"):
            for score in range(5):
                assert i18n.has(lang, f"alsfrs.{item}.o{score}"), (lang, item, score)


def test_t_formats_and_fails_loudly() -> None:
    assert i18n.t("en", "common.months", n=3) == "3 months"
    assert i18n.t("zh", "common.months", n=3) == "3 个月"
    assert i18n.t("fr", "nav.patients") == "Patients"  # unknown language -> English
    with pytest.raises(KeyError):
        i18n.t("en", "no.such.key")


def test_chinese_catalogue_is_chinese() -> None:
    zh = i18n.catalogue("zh")
    assert zh["nav.patients"] == "患者"
    han = re.compile(r"[\u4e00-\u9fff]")
    assert sum(bool(han.search(text)) for text in zh.values()) > 0.8 * len(zh)


def test_every_record_message_is_translated():
    """Each reason and warning alsim.clinical.record can give has a catalogue entry in every
    language, with the pattern's placeholders; unknown text passes through unchanged."""
    import datetime as dt

    from alsim.clinical.record import PatientInput, VisitInput, summarize_record
    from alsim.web.i18n import LANGUAGES, MESSAGES, catalogue, message

    for _pattern, key in MESSAGES:
        for lang in LANGUAGES:
            assert key in catalogue(lang), (lang, key)
    for pattern, key in MESSAGES:
        groups = set(pattern.groupindex)
        for lang in LANGUAGES:
            assert set(re.findall(r"{(\w+)}", catalogue(lang)[key])) == groups, (lang, key)
    # a record full of problems: every message it gives is known, and Chinese differs
    today = dt.date(2024, 1, 1)
    patient = PatientInput(
        onset_date=dt.date(2024, 6, 1),
        diagnosis_date=dt.date(2025, 1, 1),
        birth_year=2030,
        sex=None,
        onset_region=None,
        genotype=None,
        el_escorial=None,
        ftd=None,
    )
    visits = [VisitInput(dt.date(2023, 6, 1), (4,) * 11 + (None,))]
    summary = summarize_record(patient, visits, today=today).to_dict()
    texts = [*summary["warnings"], summary["delta_fs_reason"], summary["d50_reason"]]
    assert len(texts) >= 5
    for text in texts:
        assert any(p.fullmatch(text) for p, _ in MESSAGES), text
        assert message("en", text) == text
        assert message("zh", text) != text
    assert message("zh", "something else") == "something else"


def test_research_tables_and_gallery_are_translated():
    """Every metric the OC table can show and every experiment of the gallery has a text in
    every catalogue (the pages fall back to English only for unknown ones)."""
    from alsim.results.performance import COMPARISON_METRICS, TRIAL_METRICS
    from alsim.web.i18n import LANGUAGES, catalogue
    from alsim.web.jobs import experiment_gallery

    for lang in LANGUAGES:
        texts = catalogue(lang)
        assert all(f"metric.{m}" in texts for m in COMPARISON_METRICS), lang
        assert all(f"metric_trial.{m}" in texts for m in TRIAL_METRICS), lang
        assert all(f"experiment.{e.name}" in texts for e in experiment_gallery()), lang
    zh = catalogue("zh")
    assert zh["metric.power_or_type1"] != catalogue("en")["metric.power_or_type1"]


def test_record_message_patterns_match_their_english_texts():
    """Each pattern recognises its own English catalogue text (filled with sample values), so
    the patterns and the English catalogue cannot drift apart."""
    from alsim.web.i18n import MESSAGES, catalogue, message

    samples = {"n": "3", "date": "2024-01-02", "gap": "7.5", "what": "FVC", "err": "bad value",
               "genotype": "'XYZ'", "known": "sporadic, SOD1"}  # fmt: skip
    for pattern, key in MESSAGES:
        text = catalogue("en")[key].format(**{g: samples[g] for g in pattern.groupindex})
        assert pattern.fullmatch(text), key
        assert message("zh", text) == catalogue("zh")[key].format(
            **{g: samples[g] for g in pattern.groupindex}
        )
