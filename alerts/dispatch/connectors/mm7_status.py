"""MM7 status codes and MMStatus values (3GPP TS 23.140 §8.7, Table 27) and what they mean to us.

Classification is by table first, then by the code's first digit (1 success, 2 client error,
3 server error, 4 service error), so vendor codes we have never seen still land somewhere sane.
"""

from __future__ import annotations

import enum

from alerts.dispatch.connectors.base import Classification

STATUS_TEXT: dict[int, str] = {
    1000: "Success",
    1100: "Partial success",
    2000: "Client error",
    2001: "Operation restricted",
    2002: "Address Error",
    2003: "Address Not Found",
    2004: "Multimedia content refused",
    2005: "Message ID Not found",
    2006: "LinkedID not found",
    2007: "Message format corrupt",
    3000: "Server Error",
    3001: "Not Possible",
    3002: "Message rejected",
    3003: "Multiple addresses not supported",
    4000: "General service error",
    4001: "Improper identification",
    4002: "Unsupported version",
    4003: "Unsupported operation",
    4004: "Validation error",
    4005: "Service error",
    4006: "Service unavailable",
    4007: "Service denied",
    4008: "Application denied",
}

_BY_CODE: dict[int, Classification] = {
    1000: Classification.SUCCESS,
    1100: Classification.SUCCESS,
    3000: Classification.RETRYABLE,
    3001: Classification.PERMANENT,
    3002: Classification.PERMANENT,
    3003: Classification.SPLIT,
    4000: Classification.RETRYABLE,
    4001: Classification.LINK_MISCONFIGURED,
    4002: Classification.LINK_MISCONFIGURED,
    4003: Classification.LINK_MISCONFIGURED,
    4004: Classification.PERMANENT,
    4005: Classification.RETRYABLE,
    4006: Classification.RETRYABLE,
    4007: Classification.LINK_MISCONFIGURED,
    4008: Classification.LINK_MISCONFIGURED,
}

_BY_FIRST_DIGIT: dict[str, Classification] = {
    "1": Classification.SUCCESS,
    "2": Classification.PERMANENT,
    "3": Classification.RETRYABLE,
    "4": Classification.RETRYABLE,
}


def classify_status(code: int) -> Classification:
    """Classify an MM7 StatusCode: table first, then by first digit; nonsense is permanent."""
    known = _BY_CODE.get(code)
    if known is not None:
        return known
    return _BY_FIRST_DIGIT.get(str(code)[:1], Classification.PERMANENT)


def classify_http(http_status: int) -> Classification:
    """Classify an HTTP response that carried no MM7 status at all."""
    if http_status in (401, 403, 404, 405, 407, 415):
        return Classification.LINK_MISCONFIGURED
    if http_status in (408, 425, 429) or http_status >= 500:
        return Classification.RETRYABLE
    if 200 <= http_status < 300:
        return Classification.RETRYABLE  # a 2xx without a readable MM7 answer: try again
    return Classification.PERMANENT


class DeliveryState(enum.Enum):
    """What a delivery report's MMStatus means for the delivery row."""

    DELIVERED = "delivered"
    FAILED = "failed"
    PENDING = "pending"
    UNKNOWN = "unknown"


_MM_STATUS: dict[str, DeliveryState] = {
    "retrieved": DeliveryState.DELIVERED,
    "expired": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
    "unrecognised": DeliveryState.FAILED,
    "unrecognized": DeliveryState.FAILED,
    "deferred": DeliveryState.PENDING,
    "indeterminate": DeliveryState.PENDING,
    "forwarded": DeliveryState.PENDING,
}


def delivery_state(mm_status: str) -> DeliveryState:
    """Map an MMStatus value (any case, vendor extras tolerated) to a delivery state."""
    return _MM_STATUS.get(mm_status.strip().lower(), DeliveryState.UNKNOWN)
