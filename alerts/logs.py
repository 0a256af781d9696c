"""Structured JSON logs; phone numbers are scrubbed from every message as a last line of defence."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# E.164 (+ and 8-15 digits) and NANP-style 212-555-0123 / (212) 555 0123.
_PHONE = re.compile(r"\+\d{8,15}\b|\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b")


def scrub(text: str) -> str:
    """Replace anything that looks like a phone number."""
    return _PHONE.sub("[number]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (scrubbed), alert id when given."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record."""
        body = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key in ("alert_id", "batch_id"):
            if hasattr(record, key):
                body[key] = getattr(record, key)
        if record.exc_info:
            body["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(body)


class QuietCallbacks(logging.Filter):
    """Drops uvicorn access-log lines of MMSC callbacks (``POST /mm7/...``) that succeeded.

    An MMSC posts one delivery report per recipient — thousands a second during an alert; a line
    each costs ~15 % of the endpoint's throughput and buries the log. Failed callbacks are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a successful inbound MM7 request."""
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, method, path, _, status = args
        ok = isinstance(status, int) and status < 400
        return not (ok and method == "POST" and str(path).startswith("/mm7/"))


def configure_logging(level: str = "INFO") -> None:
    """Send JSON logs to stderr at ``level``."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietCallbacks) for f in access.filters):
        access.addFilter(QuietCallbacks())
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
