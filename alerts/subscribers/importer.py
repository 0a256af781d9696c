"""Bulk subscriber import from CSV: streaming, per-row error report, all or nothing per file.

Columns: ``phone`` (required), ``language``, ``lon`` + ``lat`` or ``zone_set`` + ``zone_id``,
``label``, ``consent_source``, ``test_audience``. Several rows with one number add locations to
one subscriber. Rows are validated in parallel chunks (phone parsing dominates), then written
in one transaction with COPY on PostgreSQL and executemany on SQLite.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.db import bulk_insert, db_time, reserve_ids, utcnow
from alerts.subscribers.phones import PhoneError, check_language, normalise

CHUNK = 20_000
PARALLEL_FROM = 100_000
REQUIRED = {"phone"}


@dataclass(slots=True)
class RowError:
    """One bad row: 1-based line number in the file, column, reason (never the number itself)."""

    line: int
    column: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did (or would have done, when it was refused)."""

    rows: int = 0
    subscribers: int = 0
    locations: int = 0
    existing_numbers: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row was rejected (and so the file was written)."""
        return not self.errors


Row = tuple[str, str, float, float, str, str, bool]  # phone, lang, lon, lat, label, consent, test


def _float(value: str, name: str, lo: float, hi: float) -> float:
    try:
        f = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not lo <= f <= hi:
        raise ValueError(f"{name} {f} is outside [{lo}, {hi}]")
    return f


def _row(
    rec: dict[str, str], region: str, zone_point: Callable[[str, str], tuple[float, float]] | None
) -> Row:
    try:
        phone = normalise(rec.get("phone", ""), region)
    except PhoneError as exc:
        raise KeyError("phone", str(exc)) from None
    lang = (rec.get("language") or "en").strip()
    try:
        check_language(lang)
    except ValueError as exc:
        raise KeyError("language", str(exc)) from None
    if (rec.get("lon") or "").strip():
        try:
            lon = _float(rec["lon"], "lon", -180, 180)
            lat = _float(rec.get("lat", ""), "lat", -90, 90)
        except ValueError as exc:
            raise KeyError("lon/lat", str(exc)) from None
    elif rec.get("zone_set") and rec.get("zone_id") and zone_point is not None:
        try:
            lon, lat = zone_point(rec["zone_set"], rec["zone_id"])
        except KeyError:
            raise KeyError(
                "zone_id", f"zone {rec['zone_set']}/{rec['zone_id']} is not registered"
            ) from None
    else:
        raise KeyError("lon/lat", "give lon and lat, or zone_set and zone_id")
    test = (rec.get("test_audience") or "").strip().lower() in ("1", "true", "yes")
    label = (rec.get("label") or "home").strip()[:40]
    return (phone, lang, lon, lat, label, (rec.get("consent_source") or "import")[:100], test)


def _validate_chunk(
    args: tuple[int, list[dict[str, str]], str],
) -> tuple[list[Row], list[RowError]]:
    return _validate_chunk_zoned(args, None)


def _chunks(
    reader: Iterator[dict[str, str]], region: str
) -> Iterator[tuple[int, list[dict[str, str]], str]]:
    batch: list[dict[str, str]] = []
    first = 2
    for rec in reader:
        batch.append(rec)
        if len(batch) == CHUNK:
            yield first, batch, region
            first += len(batch)
            batch = []
    if batch:
        yield first, batch, region


def validate_file(
    path: Path,
    *,
    region: str = "US",
    progress: Callable[[int], None] | None = None,
    zone_point: Callable[[str, str], tuple[float, float]] | None = None,
) -> tuple[list[Row], ImportReport]:
    """Read and validate every row; nothing is written."""
    report = ImportReport()
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = REQUIRED - set(reader.fieldnames or [])
        if missing:
            report.errors.append(RowError(1, ",".join(sorted(missing)), "required column missing"))
            return rows, report
        big = path.stat().st_size > PARALLEL_FROM * 40 and zone_point is None
        if big:
            with ProcessPoolExecutor(max_workers=2) as pool:
                results: Iterator[tuple[list[Row], list[RowError]]] = pool.map(
                    _validate_chunk, _chunks(reader, region)
                )
                _collect(results, rows, report, progress)
        else:
            results = (_validate_chunk_zoned(c, zone_point) for c in _chunks(reader, region))
            _collect(results, rows, report, progress)
    return rows, report


def _validate_chunk_zoned(
    args: tuple[int, list[dict[str, str]], str],
    zone_point: Callable[[str, str], tuple[float, float]] | None,
) -> tuple[list[Row], list[RowError]]:
    first_line, records, region = args
    rows: list[Row] = []
    errors: list[RowError] = []
    for offset, rec in enumerate(records):
        try:
            rows.append(_row(rec, region, zone_point))
        except KeyError as exc:
            errors.append(RowError(first_line + offset, str(exc.args[0]), str(exc.args[1])))
    return rows, errors


def _collect(
    results: Iterator[tuple[list[Row], list[RowError]]],
    rows: list[Row],
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> None:
    for chunk_rows, chunk_errors in results:
        rows.extend(chunk_rows)
        report.errors.extend(chunk_errors)
        report.rows += len(chunk_rows) + len(chunk_errors)
        if progress:
            progress(len(chunk_rows) + len(chunk_errors))


def import_file(
    engine: Engine,
    path: Path,
    *,
    region: str = "US",
    progress: Callable[[int], None] | None = None,
    zone_point: Callable[[str, str], tuple[float, float]] | None = None,
) -> ImportReport:
    """Validate a CSV file and, only if every row is good, write it in one transaction."""
    rows, report = validate_file(path, region=region, progress=progress, zone_point=zone_point)
    if report.errors or not rows:
        return report
    write_rows(engine, rows, report)
    refresh_statistics(engine)
    return report


def refresh_statistics(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum may be late or off)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE subscriber, subscriber_location")


def write_rows(engine: Engine, rows: list[Row], report: ImportReport) -> None:
    """Insert subscribers and locations in bulk; numbers already subscribed gain locations."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")  # the write lock is taken by the first write below
        existing = _existing_ids(conn, {r[0] for r in rows})
        report.existing_numbers = len(existing)
        new_phones = list(dict.fromkeys(r[0] for r in rows if r[0] not in existing))
        first_id = reserve_ids(conn, "subscriber", len(new_phones))
        ids = dict(existing)
        ids.update({p: first_id + i for i, p in enumerate(new_phones)})
        firsts: dict[str, Row] = {}
        for r in rows:
            firsts.setdefault(r[0], r)
        now = db_time(conn, utcnow())
        subs = [
            (ids[p], p, firsts[p][1], "active", firsts[p][6], firsts[p][5], now, now, now)
            for p in new_phones
        ]
        locs = [(ids[r[0]], r[4], r[2], r[3]) for r in rows]
        bulk_insert(
            conn,
            "subscriber",
            (
                "id",
                "phone_e164",
                "language",
                "status",
                "test_audience",
                "consent_source",
                "opted_in_at",
                "created_at",
                "updated_at",
            ),
            subs,
        )
        bulk_insert(conn, "subscriber_location", ("subscriber_id", "label", "lon", "lat"), locs)
        report.subscribers, report.locations = len(subs), len(locs)


def _existing_ids(conn: sa.Connection, phones: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    plist = list(phones)
    for start in range(0, len(plist), 5000):
        chunk = plist[start : start + 5000]
        q = sa.text("SELECT phone_e164, id FROM subscriber WHERE phone_e164 IN :p").bindparams(
            sa.bindparam("p", expanding=True)
        )
        found.update({str(p): int(i) for p, i in conn.execute(q, {"p": chunk})})
    return found


def csv_text(rows: list[dict[str, str]]) -> str:
    """Render dict rows as CSV text (tests, synthetic data)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
