"""Logging: phone numbers scrubbed; successful MMSC callbacks kept out of the access log."""

from __future__ import annotations

import json
import logging

from alerts.logs import JsonFormatter, QuietCallbacks, configure_logging


def _access(method: str, path: str, status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status),
        None,
    )


def test_successful_mm7_callbacks_are_not_logged_failures_and_others_are() -> None:
    quiet = QuietCallbacks()
    assert not quiet.filter(_access("POST", "/mm7/default", 200))
    assert quiet.filter(_access("POST", "/mm7/default", 401))  # a wrong password is kept
    assert quiet.filter(_access("POST", "/mm7/default", 500))
    assert quiet.filter(_access("POST", "/api/v1/alerts", 201))
    assert quiet.filter(_access("GET", "/mm7/default", 200))
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("message",), None)
    assert quiet.filter(other)


def test_configure_logging_installs_the_filter_once() -> None:
    access = logging.getLogger("uvicorn.access")
    before = list(access.filters)
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    try:
        configure_logging("INFO")
        configure_logging("INFO")
        assert sum(isinstance(f, QuietCallbacks) for f in access.filters) == 1
    finally:
        access.filters[:] = before
        logging.getLogger().handlers[:] = root_handlers
        logging.getLogger().setLevel(root_level)


def test_numbers_never_reach_the_log() -> None:
    record = logging.LogRecord(
        "alerts", logging.WARNING, __file__, 1, "report for %s dropped", ("+16175550123",), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert "6175550123" not in line["msg"] and "[number]" in line["msg"]
