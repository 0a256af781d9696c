"""Status code classification and MMStatus mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.dispatch.connectors.base import Classification as C
from alerts.dispatch.connectors.mm7_mime import normalise_cid
from alerts.dispatch.connectors.mm7_status import (
    DeliveryState,
    classify_http,
    classify_status,
    delivery_state,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1000, C.SUCCESS), (1100, C.SUCCESS), (2002, C.PERMANENT), (2007, C.PERMANENT),
        (3003, C.SPLIT), (4006, C.RETRYABLE), (3000, C.RETRYABLE), (4000, C.RETRYABLE),
        (4001, C.LINK_MISCONFIGURED), (4002, C.LINK_MISCONFIGURED), (4003, C.LINK_MISCONFIGURED),
        (4007, C.LINK_MISCONFIGURED), (4008, C.LINK_MISCONFIGURED),
        (1999, C.SUCCESS), (2599, C.PERMANENT), (3510, C.RETRYABLE), (4999, C.RETRYABLE),
        (9000, C.PERMANENT),
    ],
)  # fmt: skip
def test_classify_status(code, expected):
    assert classify_status(code) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(500, C.RETRYABLE), (503, C.RETRYABLE), (429, C.RETRYABLE), (401, C.LINK_MISCONFIGURED),
     (404, C.LINK_MISCONFIGURED), (400, C.PERMANENT), (200, C.RETRYABLE)],
)  # fmt: skip
def test_classify_http(status, expected):
    assert classify_http(status) is expected


@pytest.mark.parametrize(
    ("value", "state"),
    [
        ("Retrieved", DeliveryState.DELIVERED), ("RETRIEVED", DeliveryState.DELIVERED),
        (" retrieved ", DeliveryState.DELIVERED), ("Expired", DeliveryState.FAILED),
        ("rejected", DeliveryState.FAILED), ("Unrecognised", DeliveryState.FAILED),
        ("Unrecognized", DeliveryState.FAILED), ("Deferred", DeliveryState.PENDING),
        ("indeterminate", DeliveryState.PENDING), ("Forwarded", DeliveryState.PENDING),
        ("NotSupported", DeliveryState.UNKNOWN), ("Unreachable", DeliveryState.UNKNOWN),
    ],
)  # fmt: skip
def test_delivery_state(value, state):
    assert delivery_state(value) is state


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_every_code_gets_a_class(code):
    assert isinstance(classify_status(code), C)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_cid_normalisation_is_idempotent(value):
    once = normalise_cid(value)
    assert normalise_cid(f"cid:<{once}>") == normalise_cid(once) or "%" in once


@pytest.mark.parametrize("raw", ["cid:abc", "<abc>", " cid: abc", "CID:<abc>", "abc", "cid:%61bc"])
def test_cid_forms(raw):
    assert normalise_cid(raw) == "abc"
