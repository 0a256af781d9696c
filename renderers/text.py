"""Message text from a CAP <info>: the 90- and 360-character forms and the full MMS text.

Input is a plain `InfoText` value (the service maps its CAP model onto it), so this module stays
free of the service. CAP `CMAMtext` / `CMAMlongtext` parameters win when present and within their
limits; otherwise the five WEA elements (event, area, recommended action, expiry with time zone,
sending agency) are composed from per-language templates and shortened at word boundaries, with
the link to the full alert added whenever something had to give way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from renderers.localtime import base_language, format_local, format_until

SHORT_LIMIT = 90
LONG_LIMIT = 360

# GSM 03.38 basic character set (the extension table's characters cost two septets; none used).
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_ASCII_FOR = {
    "\u2014": "-",
    "\u2013": "-",
    "\u2019": "'",
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00b7": "-",
    "\u00a0": " ",
}

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "alert": "{event} in {area}{until}. {action}{sender}",
        "update": "UPDATE: {event} in {area}{until}. {action}{sender}",
        "cancel": "CANCELLED: {event} for {area}. {action}{sender}",
        "exercise": "EXERCISE, NOT A REAL ALERT: {event} in {area}{until}. {action}{sender}",
        "test": "TEST, NOT A REAL ALERT: {event} in {area}{until}. {action}{sender}",
        "until": " until {time}",
        "expires": "Expires",
        "area": "Area",
        "more": "More: {link}",
        "default_action": "Follow instructions from officials.",
        "cancel_action": "The earlier alert no longer applies. Follow instructions from officials.",
        "earlier_alert": "the earlier alert",
    },
    "es": {
        "alert": "{event} en {area}{until}. {action}{sender}",
        "update": "ACTUALIZACIÓN: {event} en {area}{until}. {action}{sender}",
        "cancel": "CANCELADA: {event} para {area}. {action}{sender}",
        "exercise": "SIMULACRO, NO ES UNA ALERTA REAL: {event} en {area}{until}. {action}{sender}",
        "test": "PRUEBA, NO ES UNA ALERTA REAL: {event} en {area}{until}. {action}{sender}",
        "until": " hasta {time}",
        "expires": "Vence",
        "area": "Zona",
        "more": "Más: {link}",
        "default_action": "Siga las instrucciones de las autoridades.",
        "cancel_action": "La alerta anterior ya no aplica. Siga las instrucciones de las autoridades.",
        "earlier_alert": "la alerta anterior",
    },
}

RESPONSE_ACTIONS: dict[str, dict[str, str]] = {
    "en": {
        "Evacuate": "Evacuate now.",
        "Shelter": "Take shelter now.",
        "Prepare": "Prepare now.",
        "Avoid": "Avoid the area.",
        "Monitor": "Monitor local media.",
        "AllClear": "The danger has passed.",
    },
    "es": {
        "Evacuate": "Evacúe ahora.",
        "Shelter": "Refúgiese ahora.",
        "Prepare": "Prepárese ahora.",
        "Avoid": "Evite la zona.",
        "Monitor": "Siga los medios locales.",
        "AllClear": "El peligro ha pasado.",
    },
}


@dataclass(frozen=True, slots=True)
class InfoText:
    """The facts of one CAP <info> block that message text needs (one language)."""

    language: str
    event: str
    headline: str = ""
    description: str = ""
    instruction: str = ""
    area_desc: str = ""
    sender_name: str = ""
    sent: datetime | None = None
    expires: datetime | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    status: str = "Actual"
    msg_type: str = "Alert"
    response_type: str = ""
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class MessageText:
    """The text forms for one language: 90 and 360 characters, and the full MMS text."""

    language: str
    kind: str
    short: str
    long: str
    full: str
    source: str  # "cmam" when CAP CMAM parameters were used for the short form, else "composed"


def message_kind(status: str, msg_type: str) -> str:
    """The template kind: test (CAP Test), exercise (any other non-Actual status), cancel,
    update or alert."""
    state = status.strip().lower()
    if state == "test":
        return "test"
    if state != "actual":
        return "exercise"
    return {"cancel": "cancel", "update": "update"}.get(msg_type.strip().lower(), "alert")


def _words(language: str) -> dict[str, str]:
    return TEMPLATES.get(base_language(language), TEMPLATES["en"])


def gsm7_friendly(text: str) -> str:
    """Typographic punctuation to ASCII and accents off letters GSM-7 lacks (á -> a); rest kept."""
    out = []
    for ch in text:
        ch = _ASCII_FOR.get(ch, ch)
        if len(ch) == 1 and ch not in GSM7:
            base = unicodedata.normalize("NFD", ch)[0]
            ch = base if base in GSM7 else ch
        out.append(ch)
    return "".join(out)


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 basic set (so 160 chars fit one SMS segment)."""
    return all(ch in GSM7 for ch in text)


def cut_words(text: str, limit: int, ellipsis: str = "...") -> str:
    """`text` shortened to at most `limit` characters at a word boundary, marked with `ellipsis`."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    head = text[: room + 1]
    cut = head.rfind(" ")
    if cut <= 0:
        return ""
    return text[:cut].rstrip(" ,;:.-") + ellipsis


def first_sentence(text: str) -> str:
    """The first sentence of a text (up to and including its first full stop)."""
    text = " ".join(text.split())
    for i, ch in enumerate(text):
        if ch in ".!?" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1]
    return text


@dataclass(frozen=True, slots=True)
class _Elements:
    event: str
    area: str
    action: str
    until: str
    sender: str
    short_action: str


def _action(info: InfoText) -> str:
    if info.instruction.strip():
        return " ".join(info.instruction.split())
    actions = RESPONSE_ACTIONS.get(base_language(info.language), RESPONSE_ACTIONS["en"])
    if message_kind(info.status, info.msg_type) == "cancel":
        # A Cancel withdraws the earlier message; only responseType AllClear says the danger
        # has passed (a cancel may precede a corrected alert: never tell people they are safe).
        if info.response_type == "AllClear":
            return actions["AllClear"]
        return _words(info.language)["cancel_action"]
    return actions.get(info.response_type, _words(info.language)["default_action"])


def _elements(info: InfoText) -> _Elements:
    words = _words(info.language)
    until = ""
    if info.expires:
        when = format_until(info.expires, ZoneInfo(info.time_zone), info.language, info.sent)
        until = words["until"].format(time=when)
    sender = f" - {info.sender_name.strip()}" if info.sender_name.strip() else ""
    area = " ".join(info.area_desc.split()) or "your area"
    actions = RESPONSE_ACTIONS.get(base_language(info.language), RESPONSE_ACTIONS["en"])
    action = _action(info)
    short_action = actions.get(info.response_type) or cut_words(first_sentence(action), 60)
    event = info.event.strip()
    if message_kind(info.status, info.msg_type) == "cancel":
        # The cancelled alert's responseType (Evacuate...) must not reach the short form.
        short_action = cut_words(first_sentence(action), 60)
        if not event or "cancel" in event.lower():
            event = words["earlier_alert"]  # not "Alert Cancelled for X is cancelled"
    return _Elements(event, area, action, until, sender, short_action)


def _render(kind: str, language: str, el: _Elements) -> str:
    template = _words(language)[kind]
    text = template.format(
        event=el.event, area=el.area, until=el.until, action=el.action, sender=el.sender
    )
    return " ".join(text.replace(" .", ".").replace("....", "...").split())


# Ways to make a composed text shorter, least loss first.
_REDUCTIONS: tuple[Callable[[_Elements], _Elements], ...] = (
    lambda e: replace(e, action=first_sentence(e.action)),
    lambda e: replace(e, sender=""),
    lambda e: replace(e, action=e.short_action),
    lambda e: replace(e, area=cut_words(e.area.split(";")[0], 40)),
    lambda e: replace(e, until=""),
)


def _fit_area(kind: str, language: str, el: _Elements, room: int) -> _Elements:
    """Give the area whatever room the other elements leave (cut at a word, marked ...)."""
    base = len(_render(kind, language, replace(el, area="")))
    area = cut_words(el.area, room - base)
    return replace(el, area=area) if area else el


def compose(info: InfoText, limit: int, *, link: str = "", gsm7: bool = True) -> str:
    """The five WEA elements in at most `limit` characters; never cuts a word."""
    kind = message_kind(info.status, info.msg_type)
    el = _elements(info)
    fix: Callable[[str], str] = gsm7_friendly if gsm7 else str
    more = fix(_words(info.language)["more"].format(link=link)) if link else ""
    text = fix(_render(kind, info.language, el))
    if len(text) <= limit:
        with_link = f"{text} {more}" if more else text
        return with_link if len(with_link) <= limit else text
    room = limit - (len(more) + 1 if more else 0)
    fit_area: Callable[[_Elements], _Elements] = partial(_fit_area, kind, info.language, room=room)
    for reduce in (*_REDUCTIONS, fit_area):
        el = reduce(el)
        text = fix(_render(kind, info.language, el))
        if len(text) <= room:
            return f"{text} {more}" if more else text
    return (cut_words(text, room) + (f" {more}" if more else "")).strip()


# A CMAM text an agency wrote for a non-Actual message gets a marker unless it has one.
_MARKERS = {"exercise": ("EXERCISE: ", "SIMULACRO: "), "test": ("TEST: ", "PRUEBA: ")}
_HAS_MARKER = re.compile(r"\b(EXERCISE|SIMULACRO|TEST|PRUEBA|DRILL)\b")


def _cmam(info: InfoText, name: str, limit: int, kind: str) -> str | None:
    value = " ".join(info.parameters.get(name, "").split())
    if not value or len(value) > limit:
        return None
    markers = _MARKERS.get(kind)
    if markers and not _HAS_MARKER.search(value.upper()):
        value = markers[base_language(info.language) == "es"] + value
        if len(value) > limit:
            return None
    return value


def full_text(info: InfoText, *, link: str = "") -> str:
    """The MMS text part: every element in full, one per line (UTF-8, no length limit)."""
    kind = message_kind(info.status, info.msg_type)
    words = _words(info.language)
    el = _elements(info)
    lines = [_render(kind, info.language, replace(el, action="", sender="")).rstrip(".") + "."]
    if info.headline.strip():
        lines.append(info.headline.strip())
    lines += [p for p in (info.description.strip(), el.action) if p]
    if info.expires:
        local = format_local(info.expires, ZoneInfo(info.time_zone), info.language)
        lines.append(f"{words['expires']}: {local}")
    lines += [p for p in (info.sender_name.strip(), link) if p]
    return "\n".join(lines)


def message_text(info: InfoText, *, link: str = "", gsm7: bool = True) -> MessageText:
    """All text forms for one <info> block, preferring CAP CMAM parameters."""
    kind = message_kind(info.status, info.msg_type)
    short = _cmam(info, "CMAMtext", SHORT_LIMIT, kind)
    long = _cmam(info, "CMAMlongtext", LONG_LIMIT, kind)
    return MessageText(
        language=info.language,
        kind=kind,
        short=short or compose(info, SHORT_LIMIT, link=link, gsm7=gsm7),
        long=long or compose(info, LONG_LIMIT, link=link, gsm7=gsm7),
        full=full_text(info, link=link),
        source="cmam" if short else "composed",
    )


def choose_info(infos: Sequence[InfoText], language: str) -> InfoText:
    """The <info> for a subscriber language: exact tag, then primary subtag, else the first."""
    if not infos:
        raise ValueError("an alert without <info> has no text")
    wanted = language.lower()
    for info in infos:
        if info.language.lower() == wanted:
            return info
    for info in infos:
        if base_language(info.language) == base_language(language):
            return info
    return infos[0]


def text_for(infos: Sequence[InfoText], language: str, *, link: str = "") -> MessageText:
    """The text forms a subscriber of `language` receives (fallback: the alert's first language)."""
    return message_text(choose_info(infos, language), link=link)


def texts_by_language(infos: Sequence[InfoText], *, link: str = "") -> dict[str, MessageText]:
    """One MessageText per language the alert carries, keyed by its CAP language tag."""
    return {info.language: message_text(info, link=link) for info in infos}
