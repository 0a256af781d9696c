"""What the simulator remembers: received messages (bounded) and request statistics."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.dispatch.connectors.base import Address
from alerts.dispatch.connectors.mm7_mime import MimePart


@dataclass(slots=True)
class StoredMessage:
    """One accepted SubmitReq as the MMSC keeps it."""

    message_id: str
    transaction_id: str
    namespace: str
    version: str
    received_at: datetime
    sender: Address | None
    recipients: tuple[Address, ...]
    subject: str | None
    priority: str | None
    parts: list[MimePart]
    state: str = "accepted"
    reports: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The text parts joined, as a phone would show them."""
        return "\n".join(p.text().strip() for p in self.parts if p.media_type == "text/plain")

    @property
    def image_index(self) -> int | None:
        """Index of the first image part, if any."""
        return next(
            (i for i, p in enumerate(self.parts) if p.media_type.startswith("image/")), None
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view of the message."""
        return {
            "message_id": self.message_id,
            "transaction_id": self.transaction_id,
            "received_at": self.received_at.isoformat(),
            "mm7_version": self.version,
            "sender": self.sender.value if self.sender else None,
            "recipients": [r.value for r in self.recipients],
            "subject": self.subject,
            "priority": self.priority,
            "text": self.text,
            "state": self.state,
            "image_part": self.image_index,
            "parts": [
                {
                    "index": i,
                    "media_type": p.media_type,
                    "content_id": p.content_id,
                    "size": len(p.data),
                }
                for i, p in enumerate(self.parts)
            ],
            "reports": dict(self.reports),
        }


class MessageStore:
    """The last `limit` accepted messages, by MessageID."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self.total = 0

    def add(self, message: StoredMessage) -> None:
        """Keep a message, evicting the oldest beyond the limit."""
        self.total += 1
        if self.limit <= 0:
            return
        self._messages[message.message_id] = message
        while len(self._messages) > self.limit:
            self._messages.popitem(last=False)

    def get(self, message_id: str) -> StoredMessage | None:
        """A kept message by MessageID."""
        return self._messages.get(message_id)

    def latest(self, limit: int) -> list[StoredMessage]:
        """The newest messages first."""
        return list(reversed(self._messages.values()))[:limit]

    def __len__(self) -> int:
        return len(self._messages)

    def clear(self) -> None:
        """Forget everything."""
        self._messages.clear()
        self.total = 0


class Stats:
    """Request counters and the peak number of requests seen in any one wall-clock second."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.status_codes: Counter[int] = Counter()
        self._seconds: deque[list[int]] = deque(maxlen=600)
        self.peak_rps = 0
        self.peak_accepted_rps = 0
        self.started = time.monotonic()

    def request(self) -> None:
        """Count one incoming MM7 request in its second."""
        self.counters["requests"] += 1
        bucket = self._bucket()
        bucket[1] += 1
        self.peak_rps = max(self.peak_rps, bucket[1])

    def answered(self, code: int, recipients: int = 0) -> None:
        """Count an MM7 answer by status code (1000 counts as accepted)."""
        self.status_codes[code] += 1
        if code == 1000:
            self.counters["accepted"] += 1
            self.counters["recipients"] += recipients
            bucket = self._bucket()
            bucket[2] += 1
            self.peak_accepted_rps = max(self.peak_accepted_rps, bucket[2])

    def _bucket(self) -> list[int]:
        second = int(time.monotonic())
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append([second, 0, 0])
        return self._seconds[-1]

    def current_rps(self) -> int:
        """Requests counted in the current second so far."""
        second = int(time.monotonic())
        return self._seconds[-1][1] if self._seconds and self._seconds[-1][0] == second else 0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of all counters."""
        return {
            **dict(self.counters),
            "status_codes": {str(k): v for k, v in sorted(self.status_codes.items())},
            "peak_rps": self.peak_rps,
            "peak_accepted_rps": self.peak_accepted_rps,
            "per_second": [
                {"t": s - int(self.started), "requests": n} for s, n, _ in self._seconds
            ],
            "uptime_s": round(time.monotonic() - self.started, 3),
        }
