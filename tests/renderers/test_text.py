"""Message text: 90/360 limits, word boundaries, CMAM preference, kinds, languages, GSM-7."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderers.text import (
    LONG_LIMIT,
    SHORT_LIMIT,
    InfoText,
    choose_info,
    cut_words,
    gsm7_friendly,
    is_gsm7,
    message_kind,
    message_text,
    text_for,
    texts_by_language,
)

from .conftest import EXPIRES, SENT

LINK = "ac.nyc/a/x7K2p"

EN = InfoText(
    language="en-US",
    event="Hurricane Evacuation Order",
    headline="Evacuate Zone 1 now",
    description="Hurricane Ada makes landfall tonight with a storm surge of 8 to 12 feet.",
    instruction=(
        "Residents of hurricane evacuation zone 1 must leave now. Go to friends or family "
        "outside the zone or to a city evacuation center. Bring medicines and documents."
    ),
    area_desc="New York City Hurricane Evacuation Zone 1",
    sender_name="NYC Emergency Management",
    sent=SENT,
    expires=EXPIRES,
    response_type="Evacuate",
    time_zone="America/New_York",
)
ES = replace(
    EN,
    language="es-US",
    event="Orden de evacuación por huracán",
    headline="Evacúe la zona 1 ahora",
    instruction="Los residentes de la zona 1 deben salir ahora. Vaya a un centro de evacuación.",
    area_desc="Zona de evacuación 1 de la ciudad de Nueva York",
    sender_name="Manejo de Emergencias de NYC",
)


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text))


def assert_whole_words(form: str, *sources: str) -> None:
    """Every word in the form appears whole in the sources (or the template)."""
    allowed = words_of(" ".join(sources)) | words_of(
        "in until AM PM EDT EST More UPDATE CANCELLED for EXERCISE TEST NOT A REAL ALERT "
        "en hasta Mas ACTUALIZACION CANCELADA para SIMULACRO PRUEBA NO ES UNA "
        "Mon Tue Wed Thu Fri Sat Sun lun mar mie jue vie sab dom now Evacuate Evacue ahora"
    )
    allowed |= words_of(gsm7_friendly(" ".join(sources)))
    for w in words_of(form):
        assert w in allowed or w.isdigit() or re.fullmatch(r"\d+:\d+", w), w


@pytest.mark.parametrize("info", [EN, ES], ids=["en", "es"])
@pytest.mark.parametrize("link", ["", LINK])
def test_forms_within_limits_and_whole_words(info, link):
    m = message_text(info, link=link)
    assert len(m.short) <= SHORT_LIMIT
    assert len(m.long) <= LONG_LIMIT
    assert m.source == "composed"
    src = (info.event, info.area_desc, info.instruction, info.sender_name, link)
    assert_whole_words(m.short, *src)
    assert_whole_words(m.long, *src)
    assert m.short.startswith(gsm7_friendly(info.event))


def test_long_form_has_the_five_elements():
    m = message_text(EN, link=LINK)
    for part in (
        "Hurricane Evacuation Order",
        "Zone 1",
        "must leave now",
        "until 11:00 PM EDT",
        "NYC Emergency Management",
    ):
        assert part in m.long, part


def test_short_form_keeps_action_and_link_when_shortened():
    m = message_text(EN, link=LINK)
    assert "Evacuate now." in m.short
    assert m.short.endswith(f"More: {LINK}")


def test_link_added_when_text_does_not_fit_and_never_cut():
    info = replace(EN, area_desc="Zone 1 " + "and the waterfront blocks " * 20)
    m = message_text(info, link=LINK)
    assert LINK in m.short
    assert LINK in m.long
    assert len(m.long) <= LONG_LIMIT


def test_cmam_parameters_preferred():
    params = {
        "CMAMtext": "Hurricane: evacuate NYC Zone 1 now. Shelters open. -NYCEM",
        "CMAMlongtext": "Hurricane Ada: all residents of NYC evacuation zone 1 must leave.",
    }
    m = message_text(replace(EN, parameters=params), link=LINK)
    assert m.short == params["CMAMtext"]
    assert m.long == params["CMAMlongtext"]
    assert m.source == "cmam"


def test_overlong_cmam_ignored():
    m = message_text(replace(EN, parameters={"CMAMtext": "x " * 60}))
    assert m.source == "composed"
    assert len(m.short) <= SHORT_LIMIT


@pytest.mark.parametrize(
    ("language", "cmam", "short", "long"),
    [
        ("en-US", "Evacuate NYC Zone 1 now.", "TEST: Evacuate", "TEST, NOT A REAL ALERT"),
        ("es-US", "Evacúe la Zona 1 ahora.", "PRUEBA: Evac", "PRUEBA, NO ES UNA ALERTA REAL"),
        ("en-US", "Latest contest results: evacuate.", "TEST: Latest", "TEST, NOT A REAL ALERT"),
        ("en-US", "TEST of the alert system.", "TEST of the", "TEST, NOT A REAL ALERT"),
    ],
)
def test_a_test_message_says_test_in_its_language(language, cmam, short, long):
    """CAP status Test is a technical test, not an exercise: every form says so."""
    info = replace(EN, status="Test", language=language, parameters={"CMAMtext": cmam})
    m = message_text(info)
    assert m.kind == "test"
    assert m.short.startswith(short)
    assert m.long.startswith(long)
    assert m.full.startswith(long)
    assert "EXERCISE" not in m.full and "SIMULACRO" not in m.full


def test_exercise_marks_every_form_even_cmam():
    info = replace(EN, status="Exercise", parameters={"CMAMtext": "Evacuate NYC Zone 1 now."})
    m = message_text(info)
    assert m.kind == "exercise"
    assert m.short.startswith("EXERCISE: ")
    assert m.long.startswith("EXERCISE, NOT A REAL ALERT")
    assert m.full.startswith("EXERCISE, NOT A REAL ALERT")


@pytest.mark.parametrize(
    ("status", "msg_type", "kind"),
    [
        ("Actual", "Alert", "alert"),
        ("Actual", "Update", "update"),
        ("Actual", "Cancel", "cancel"),
        ("Test", "Alert", "test"),
        ("Draft", "Cancel", "exercise"),
        ("Exercise", "Update", "exercise"),
    ],
)
def test_message_kind(status, msg_type, kind):
    assert message_kind(status, msg_type) == kind


def test_cancel_says_cancelled_never_all_clear_in_both_languages():
    """A Cancel withdraws the alert; it must not tell people the danger has passed."""
    en = message_text(replace(EN, msg_type="Cancel", instruction=""))
    es = message_text(replace(ES, msg_type="Cancel", instruction=""))
    assert en.short.startswith("CANCELLED")
    assert "no longer applies" in en.long
    assert "danger has passed" not in en.long and "ALL CLEAR" not in en.long
    assert es.short.startswith("CANCELADA")
    assert "ya no aplica" in es.long
    # the cancelled alert's response (Evacuate) never reaches any form of a cancellation
    for form in (en.short, en.long, es.short, es.long):
        assert "Evac" not in form.replace("Evacuation", "").replace("evacuacion", ""), form


def test_cancel_with_all_clear_response_says_so():
    en = message_text(replace(EN, msg_type="Cancel", instruction="", response_type="AllClear"))
    assert "The danger has passed." in en.long


def test_cancel_event_named_cancelled_is_not_repeated():
    en = message_text(replace(EN, msg_type="Cancel", instruction="", event="Alert Cancelled"))
    assert en.long.startswith("CANCELLED: the earlier alert for ")
    assert "Alert Cancelled" not in en.long


def test_update_template():
    assert message_text(replace(EN, msg_type="Update")).long.startswith("UPDATE: ")
    assert message_text(replace(ES, msg_type="Update")).long.startswith("ACTUALIZACION: ")


def test_spanish_forms_are_gsm7_and_full_text_keeps_accents():
    m = message_text(ES, link=LINK)
    assert is_gsm7(m.short)
    assert is_gsm7(m.long)
    assert "evacuación" in m.full
    assert "Vence: lun 14 sep 23:00 EDT" in m.full


def test_full_text_has_everything():
    m = message_text(EN, link=LINK)
    for part in (
        EN.headline,
        EN.description,
        EN.instruction,
        EN.sender_name,
        LINK,
        "Expires: Mon Sep 14 11:00 PM EDT",
    ):
        assert part in m.full


def test_language_choice_and_fallback():
    infos = [EN, ES]
    assert choose_info(infos, "es-US") is ES
    assert choose_info(infos, "es") is ES
    assert choose_info(infos, "ES-mx") is ES
    assert choose_info(infos, "zh-CN") is EN
    assert choose_info([ES, EN], "fr") is ES
    assert text_for(infos, "fr", link=LINK).language == "en-US"
    assert set(texts_by_language(infos)) == {"en-US", "es-US"}
    with pytest.raises(ValueError, match="info"):
        choose_info([], "en")


def test_unknown_language_uses_english_templates():
    m = message_text(replace(EN, language="fr-CA"))
    assert " in " in m.long


@settings(max_examples=80, deadline=None)
@given(
    event=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60
    ),
    words=st.lists(st.from_regex(r"[A-Za-zñé]{1,14}", fullmatch=True), min_size=0, max_size=90),
    link=st.sampled_from(["", LINK]),
)
def test_limits_hold_for_any_input(event, words, link):
    info = replace(EN, event=event, area_desc=" ".join(words[:30]), instruction=" ".join(words))
    m = message_text(info, link=link)
    assert len(m.short) <= SHORT_LIMIT
    assert len(m.long) <= LONG_LIMIT


@given(
    st.lists(st.from_regex(r"[a-z]{1,12}", fullmatch=True), min_size=1, max_size=40),
    st.integers(min_value=5, max_value=120),
)
def test_cut_words_never_cuts_a_word(words, limit):
    text = " ".join(words)
    cut = cut_words(text, limit)
    assert len(cut) <= limit
    if cut.endswith("..."):
        kept = cut[:-3].split()
        assert kept == words[: len(kept)]
    else:
        assert cut in ("", text)
