"""From the compose form to a CAP 1.2 document: console-authored alerts are CAP too."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts import cap
from alerts.access.models import Agency
from alerts.cap.values import format_datetime, parse_datetime
from alerts.console.message_templates import LANGUAGES
from alerts.db import utcnow
from alerts.errors import BadInput, Violation
from renderers.localtime import base_language

STATUSES = ("Actual", "Exercise", "Test")
MSG_TYPES = ("Alert", "Update", "Cancel")
SHORT_MAX, LONG_MAX = 90, 360
_CHOICES: dict[str, tuple[type[Any], str]] = {
    "category": (cap.Category, "Safety"),
    "response_type": (cap.ResponseType, "None"),
    "urgency": (cap.Urgency, "Immediate"),
    "severity": (cap.Severity, "Severe"),
    "certainty": (cap.Certainty, "Observed"),
}


@dataclass(slots=True)
class Composed:
    """The operator's message, checked: everything but the area."""

    status: str
    msg_type: str
    event: str
    codes: dict[str, str]
    expires_hours: int
    texts: dict[str, tuple[str, str]]  # language -> (headline, instruction)
    references: str = ""
    identifier: str = ""
    sent: str = ""
    template: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def is_actual(self) -> bool:
        """A real alert (not an exercise or test)."""
        return self.status == "Actual"


def _bad(message: str, path: str) -> BadInput:
    return BadInput(
        message, violations=[Violation(rule="COMPOSE-INVALID", message=message, path=path)]
    )


def _choice(form: dict[str, Any], name: str) -> str:
    enum, default = _CHOICES[name]
    value = str(form.get(name) or default)
    if value not in {e.value for e in enum}:
        raise _bad(f"{value!r} is not a CAP {name}", name)
    return value


def _texts(form: dict[str, Any]) -> dict[str, tuple[str, str]]:
    texts = {}
    for lang in LANGUAGES:
        headline = str(form.get(f"headline_{lang}", "")).strip()
        instruction = str(form.get(f"instruction_{lang}", "")).strip()
        if not headline and not instruction:
            continue
        if not headline or len(headline) > SHORT_MAX:
            raise _bad(
                f"{LANGUAGES[lang]} short text must be 1-{SHORT_MAX} characters", f"headline_{lang}"
            )
        if len(instruction) > LONG_MAX:
            raise _bad(
                f"{LANGUAGES[lang]} long text is over {LONG_MAX} characters", f"instruction_{lang}"
            )
        texts[lang] = (headline, instruction)
    if not texts:
        raise _bad("write the message in at least one language", "headline_en-US")
    return texts


def read_form(form: dict[str, Any]) -> Composed:
    """Check the non-area fields of the compose form."""
    status = str(form.get("status", ""))
    if status not in STATUSES:
        raise _bad("choose first whether this is a REAL alert or an exercise/test", "status")
    msg_type = str(form.get("msg_type") or "Alert")
    if msg_type not in MSG_TYPES:
        raise _bad(f"unknown message type {msg_type!r}", "msg_type")
    if msg_type != "Alert" and not str(form.get("references", "")).strip():
        raise _bad("an Update or Cancel must reference the original alert", "references")
    event = str(form.get("event", "")).strip()
    if not event:
        raise _bad("name the event (e.g. 'Evacuation Order')", "event")
    try:
        hours = int(str(form.get("expires_hours") or 6))
    except ValueError as exc:
        raise _bad("expiry must be a whole number of hours", "expires_hours") from exc
    return Composed(
        status=status,
        msg_type=msg_type,
        event=event[:200],
        codes={name: _choice(form, name) for name in _CHOICES},
        expires_hours=max(1, min(hours, 168)),
        texts=_texts(form),
        references=str(form.get("references", "")).strip(),
        identifier=str(form.get("identifier", "")),
        sent=str(form.get("sent", "")),
        template=str(form.get("template", "")),
    )


def stamp(composed: Composed, agency: Agency) -> None:
    """Give a new message its identifier and sent time (kept through confirmation: dedupe)."""
    if not composed.identifier or parse_datetime(composed.sent) is None:
        assert agency.id is not None
        composed.identifier = f"alertcast-console-{agency.id}-{secrets.token_hex(8)}"
        composed.sent = format_datetime(utcnow())


# The first word of an exercise or test headline, in the headline's language.
_MARKS = {
    "Exercise": {"en": "EXERCISE", "es": "SIMULACRO"},
    "Test": {"en": "TEST", "es": "PRUEBA"},
}


def mark_word(status: str, language: str) -> str:
    """The word an exercise or test headline starts with in ``language`` ('' for Actual)."""
    if status == "Actual":
        return ""
    words = _MARKS.get(status, {})
    return words.get(base_language(language)) or words.get("en") or status.upper()


def _marked(headline: str, status: str, language: str = "en") -> str:
    """Exercise and test messages say so in their first word, on every phone, in its language."""
    mark = mark_word(status, language)
    if not mark or headline.upper().startswith((mark, status.upper())):
        return headline
    return f"{mark}: {headline}"[:SHORT_MAX]


def _info(
    composed: Composed, lang: str, sent: datetime, area: cap.Area, sender_name: str
) -> cap.Info:
    headline, instruction = composed.texts[lang]
    c = composed.codes
    return cap.Info(
        language=lang,
        categories=(cap.Category(c["category"]),),
        event=composed.event,
        response_types=(cap.ResponseType(c["response_type"]),),
        urgency=cap.Urgency(c["urgency"]),
        severity=cap.Severity(c["severity"]),
        certainty=cap.Certainty(c["certainty"]),
        expires=sent + timedelta(hours=composed.expires_hours),
        sender_name=sender_name,
        headline=_marked(headline, composed.status, lang),
        instruction=instruction or None,
        areas=(area,),
    )


def build_alert(composed: Composed, *, agency: Agency, sender: str, area: cap.Area) -> cap.CapAlert:
    """The CAP alert for a composed, stamped message."""
    sent = parse_datetime(composed.sent)
    assert sent is not None, "stamp() first"
    note = None if composed.is_actual else f"{composed.status.upper()} — not a real emergency"
    return cap.CapAlert(
        identifier=composed.identifier,
        sender=sender,
        sent=sent,
        status=cap.Status(composed.status),
        msg_type=cap.MsgType(composed.msg_type),
        scope=cap.Scope.PUBLIC,
        note=note,
        references_text=composed.references or None,
        infos=tuple(_info(composed, lang, sent, area, agency.name) for lang in composed.texts),
    )


def to_cap_xml(composed: Composed, *, agency: Agency, area: cap.Area) -> bytes:
    """Serialise the composed message; the sender is the agency's first allowed sender."""
    if not agency.senders:
        raise _bad(f"agency {agency.name!r} has no CAP sender configured", "sender")
    return cap.serialize(build_alert(composed, agency=agency, sender=agency.senders[0], area=area))
