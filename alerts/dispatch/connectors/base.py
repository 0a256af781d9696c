"""The small abstract base every MMSC connector implements, and its plain result values.

A connector turns one `SubmitRequest` (MMS content + recipients + alert facts) into one
protocol exchange with an MMSC and reports the outcome as a `SubmitResult`: the MMSC's status
code, a `Classification` that tells dispatch what to do next, and the MessageID that later
delivery reports will quote.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, SecretStr

from renderers.mms import MmsContent


class Classification(enum.Enum):
    """What dispatch should do with a submit outcome."""

    SUCCESS = "success"
    PERMANENT = "permanent"
    RETRYABLE = "retryable"
    SPLIT = "split"
    LINK_MISCONFIGURED = "link_misconfigured"


class AddressKind(enum.Enum):
    """How an MM7 address is written: E.164 number, e-mail style address or short code."""

    NUMBER = "Number"
    RFC2822 = "RFC2822Address"
    SHORT_CODE = "ShortCode"


class RecipientField(enum.Enum):
    """The recipient list an address goes into."""

    TO = "To"
    CC = "Cc"
    BCC = "Bcc"


class Priority(enum.Enum):
    """MM7 message priority."""

    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"


@dataclass(frozen=True, slots=True)
class Address:
    """One MM7 address (a subscriber's phone number unless said otherwise)."""

    value: str
    kind: AddressKind = AddressKind.NUMBER
    field: RecipientField = RecipientField.TO


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """Everything a connector needs to submit one MMS to one or more recipients."""

    transaction_id: str
    recipients: tuple[Address, ...]
    content: MmsContent
    subject: str | None = None
    priority: Priority = Priority.NORMAL
    expiry: datetime | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of one submit (or, for SPLIT, of its single-recipient parts)."""

    classification: Classification
    status_code: int
    status_text: str = ""
    message_id: str | None = None
    http_status: int | None = None
    recipients: tuple[Address, ...] = ()
    parts: tuple[SubmitResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the MMSC accepted the message."""
        return self.classification is Classification.SUCCESS


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The outcome of a CancelReq / ReplaceReq."""

    classification: Classification
    status_code: int
    status_text: str = ""
    http_status: int | None = None


class ConnectorConfig(BaseModel):
    """Settings common to every MMSC link; connectors subclass this with their own fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    url: str
    username: str | None = None
    password: SecretStr | None = None
    max_recipients: int = 1
    rate_limit_per_s: float | None = None


def priority_for(severity: str | None, urgency: str | None) -> Priority:
    """High for CAP severity Extreme or urgency Immediate, Normal otherwise."""
    if (severity or "").lower() == "extreme" or (urgency or "").lower() == "immediate":
        return Priority.HIGH
    return Priority.NORMAL


class Connector(abc.ABC):
    """An MMSC link: submit, cancel and replace messages."""

    config: ConnectorConfig

    @abc.abstractmethod
    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Submit one MMS to the request's recipients."""

    @abc.abstractmethod
    async def cancel(self, message_id: str, transaction_id: str) -> OperationResult:
        """Ask the MMSC to recall a message that was not yet delivered."""

    @abc.abstractmethod
    async def replace(
        self, message_id: str, transaction_id: str, content: MmsContent
    ) -> OperationResult:
        """Ask the MMSC to replace the content of a message that was not yet delivered."""
