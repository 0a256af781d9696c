"""The simulator's checks on a VASP request: dialect, schema, MIME structure, cid references, size.

Each failed check raises `Rejection` with the TS 23.140 status code a strict MMSC would answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.dispatch.connectors.base import Address
from alerts.dispatch.connectors.mm7_mime import MimePart, Mm7Http, flatten, normalise_cid
from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
    SoapMessage,
    address_leaf,
    child,
    children,
    find_text,
    local,
    parse_address,
    parse_xml,
)
from alerts.mmsc.config import SimulatorConfig
from alerts.mmsc.schema import Mm7Schema

OPERATIONS = frozenset({"SubmitReq", "CancelReq", "ReplaceReq"})


class Rejection(Exception):
    """A request the MMSC refuses, with the status code to answer."""

    def __init__(self, code: int, text: str, details: str | None = None) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text
        self.details = details


@dataclass(frozen=True, slots=True)
class SubmitFacts:
    """What the simulator needs from a valid SubmitReq."""

    recipients: tuple[Address, ...]
    sender: Address | None
    subject: str | None
    priority: str | None
    parts: list[MimePart]


def check_envelope(
    message: SoapMessage, soap: bytes, cfg: SimulatorConfig, schema: Mm7Schema
) -> None:
    """Operation, dialect (namespace + MM7Version pair), TransactionID, schema, VASPID."""
    if message.name not in OPERATIONS:
        raise Rejection(4003, "Unsupported operation", message.name)
    version = find_text(message.element, "MM7Version")
    if (message.namespace or "", version or "") not in {tuple(p) for p in cfg.accepted_versions}:
        raise Rejection(4002, "Unsupported version", f"{message.namespace} / {version}")
    if not message.transaction_id:
        raise Rejection(4004, "Validation error", "missing TransactionID")
    errors = schema.errors(soap, message.namespace)
    if errors:
        raise Rejection(4004, "Validation error", errors[0][:300])
    if cfg.vaspid is not None:
        vaspid = find_text(message.element, "SenderIdentification", "VASPID")
        if vaspid != cfg.vaspid:
            raise Rejection(4001, "Improper identification", "unknown VASPID")


def recipients_of(message: SoapMessage) -> tuple[Address, ...]:
    """All To/Cc/Bcc addresses of a SubmitReq."""
    block = child(message.element, "Recipients")
    if block is None:
        return ()
    found = (address_leaf(item) for group in children(block) for item in children(group))
    return tuple(a for a in found if a is not None)


def _content_part(message: SoapMessage, http: Mm7Http) -> MimePart:
    content = child(message.element, "Content")
    href = content.get("href") if content is not None else None
    if not href:
        raise Rejection(2007, "Message format corrupt", "no Content href")
    wanted = normalise_cid(href)
    part = next((p for p in http.attachments if p.content_id == wanted), None)
    if part is None:
        raise Rejection(2007, "Message format corrupt", f"Content href {href} matches no part")
    return part


def _smil_references(smil: MimePart) -> list[str]:
    try:
        root = parse_xml(smil.data)
    except Mm7ParseError as exc:
        raise Rejection(2007, "Message format corrupt", f"SMIL: {exc}") from exc
    if local(root) != "smil":
        raise Rejection(2007, "Message format corrupt", "SMIL root is not <smil>")
    return [str(el.get("src")) for el in root.iter() if isinstance(el.tag, str) and el.get("src")]


def _check_presentation(content: MimePart) -> list[MimePart]:
    if content.media_type != "multipart/related" or not content.children:
        raise Rejection(2007, "Message format corrupt", "content is not multipart/related")
    start = content.params.get("start")
    smil_cid = normalise_cid(start) if start else None
    smil = next((p for p in content.children if p.content_id == smil_cid), content.children[0])
    if smil.media_type != "application/smil":
        raise Rejection(2007, "Message format corrupt", "start part is not application/smil")
    cids = {p.content_id for p in content.children if p.content_id}
    locations = {p.location for p in content.children if p.location}
    for ref in _smil_references(smil):
        found = normalise_cid(ref) in cids if ref.lower().startswith("cid:") else ref in locations
        if not found:
            raise Rejection(2007, "Message format corrupt", f"SMIL reference {ref} matches no part")
    return flatten(content)


def check_submit(message: SoapMessage, http: Mm7Http, cfg: SimulatorConfig) -> SubmitFacts:
    """MIME structure, cid references, content size and recipient count of a SubmitReq."""
    leaves = _check_presentation(_content_part(message, http))
    size = sum(len(p.data) for p in leaves)
    if size > cfg.max_content_bytes:
        raise Rejection(
            2004, "Multimedia content refused", f"{size} bytes > {cfg.max_content_bytes}"
        )
    recipients = recipients_of(message)
    if len(recipients) > cfg.max_recipients:
        raise Rejection(3003, "Multiple addresses not supported")
    ident = child(message.element, "SenderIdentification")
    sender = parse_address(child(ident, "SenderAddress")) if ident is not None else None
    return SubmitFacts(
        recipients=recipients,
        sender=sender,
        subject=find_text(message.element, "Subject"),
        priority=find_text(message.element, "Priority"),
        parts=leaves,
    )


def check_replace_content(message: SoapMessage, http: Mm7Http) -> list[MimePart]:
    """The new content of a ReplaceReq, checked like a SubmitReq's."""
    return _check_presentation(_content_part(message, http))
