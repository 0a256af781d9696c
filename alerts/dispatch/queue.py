"""The delivery queue's SQL: claim with leases, hand to the MMSC, record outcomes, sweep."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from alerts.db import bulk_insert, db_time, utcnow
from alerts.dispatch.models import DeliveryState, DispatchPlan, PlanState

BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_ATTEMPTS = 10
# Waiting for delivery reports ends this long after the message's expiry (the MMSC drops an
# undelivered message at its ExpiryDate, the alert's ``expires``), or, for an alert without
# one, this long after the plan was written (a common MMSC default validity).
REPORT_GRACE = timedelta(hours=1)
REPORT_MAX_WAIT = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class Claimed:
    """One claimed delivery."""

    id: int
    alert_id: int
    content_id: int
    recipient: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one delivery in a submit."""

    delivery_id: int
    state: str  # submitted | queued (retry) | failed
    status_code: int | None
    http_status: int | None
    message_id: str | None = None
    reason: str | None = None
    retry_in_s: float = 0.0


def _by_id(c: Claimed) -> int:
    return c.id


def backoff_s(attempts: int) -> float:
    """Exponential backoff with full jitter for the attempt number just made."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return float(ceiling * (0.5 + random.random() / 2))


_PICK_ALERTS = sa.text(
    "SELECT alert_id FROM dispatch_plan WHERE state = 'dispatching' "
    "ORDER BY priority DESC, last_claim_at ASC NULLS FIRST, alert_id LIMIT 8"
)
# Both walk the partial index ``ix_delivery_queued`` (alert_id, priority DESC, content_id, id)
# WHERE state = 'queued': the first due row names the content, the claim then takes the next
# rows of that one (alert, content) so a multi-recipient SubmitReq can be filled to the link's
# max_recipients. Rows already claimed or sent are not in the index at all.
_PICK_CONTENT = sa.text(
    "SELECT content_id, priority FROM delivery WHERE alert_id = :alert AND state = 'queued' "
    "AND next_attempt_at <= :now ORDER BY priority DESC, content_id, id LIMIT 1"
)
# ``{state}`` is 'claimed', or 'submitting' when the batch goes to the MMSC without waiting.
# On PostgreSQL the ids are gathered first (``id = ANY(ARRAY(...))``): as ``id IN (...)`` the
# planner hash-joined the claimed ids against a sequential scan of the whole delivery table,
# every row of every alert read for each claim (150 ms a claim at 110k rows, growing with it).
_CLAIM = """
UPDATE delivery SET state = '{state}', lease_until = :lease, batch_id = :batch,
  attempts = attempts + 1
WHERE {ids_in}(
  SELECT id FROM delivery
  WHERE alert_id = :alert AND state = 'queued' AND priority = :prio AND content_id = :content
    AND next_attempt_at <= :now AND id > :after
  ORDER BY priority DESC, content_id, id LIMIT :n {lock}){close}
RETURNING id, alert_id, content_id, recipient, attempts
"""
# A crashed worker's rows: through the partial index ``ix_delivery_leased`` (lease_until)
# WHERE state IN ('claimed', 'submitting'), which holds only what is in flight. One alert and
# content at a time, and only of alerts still dispatching (never after a cancel or expiry).
_RECLAIM = """
UPDATE delivery SET state = 'claimed', lease_until = :lease, batch_id = :batch, attempts = attempts + 1
WHERE {ids_in}(
  SELECT d.id FROM delivery d
  JOIN (
    SELECT x.alert_id, x.content_id FROM delivery x
    JOIN dispatch_plan p ON p.alert_id = x.alert_id AND p.state = 'dispatching'
    WHERE x.state IN ('claimed', 'submitting') AND x.lease_until < :now
    ORDER BY x.priority DESC, x.lease_until LIMIT 1
  ) k ON k.alert_id = d.alert_id AND k.content_id = d.content_id
  WHERE d.state IN ('claimed', 'submitting') AND d.lease_until < :now
  ORDER BY d.id LIMIT :n {lock}){close}
RETURNING id, alert_id, content_id, recipient, attempts
"""


def _subquery_ids(sql: str, pg: bool, lock: str, **fields: str) -> sa.TextClause:
    """``sql`` with its ``id IN (subquery)`` spelled for the dialect (see ``_CLAIM``)."""
    if pg:
        return sa.text(sql.format(ids_in="id = ANY(ARRAY", close=")", lock=lock, **fields))
    return sa.text(sql.format(ids_in="id IN ", close="", lock="", **fields))


def claim(
    engine: Engine,
    *,
    batch_id: str,
    n: int,
    lease_s: float,
    stages: dict[str, float] | None = None,
    submitting: bool = False,
    cursor: ClaimCursor | None = None,
) -> list[Claimed]:
    """Claim up to ``n`` due deliveries of one content of the least recently served, most urgent alert.

    With ``submitting`` the rows go straight to ``submitting`` (no ``begin_submit``): for a
    batch handed to the MMSC at once, with no wait for rate-limit tokens. A cancel then treats
    them as in flight and acknowledges only after the batch is recorded, exactly as for rows
    moved by ``begin_submit``; the row locks order the two either way (a cancel that commits
    first leaves no queued row to claim). ``cursor`` (one per claimer) lets a claimer that
    keeps draining one content start where its last full claim ended. ``stages`` (optional)
    accumulates seconds per step: pick, update, commit, plan.
    """
    clock = _Stages(stages)
    claimed: list[Claimed] = []
    with engine.begin() as conn:
        now = utcnow()
        step = _ClaimStep(
            conn,
            _subquery_ids(
                _CLAIM,
                conn.dialect.name == "postgresql",
                "FOR UPDATE SKIP LOCKED",
                state="submitting" if submitting else "claimed",
            ),
            {
                "lease": db_time(conn, now + timedelta(seconds=lease_s)),
                "batch": batch_id,
                "now": db_time(conn, now),
                "n": n,
            },
            n,
        )
        for (alert_id,) in conn.execute(_PICK_ALERTS).all():
            claimed = step.alert(alert_id, cursor, clock)
            if claimed:
                break
    clock.lap("commit")
    if claimed:
        # Fairness between alerts, in its own short transaction: inside the claim it held the
        # plan row's lock for the whole claim, one claim of an alert at a time across workers.
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE dispatch_plan SET last_claim_at = :t WHERE alert_id = :a"),
                {"t": db_time(conn, utcnow()), "a": claimed[0].alert_id},
            )
        clock.lap("plan")
    return claimed


@dataclass
class ClaimCursor:
    """Where one claimer's last full claim of an (alert, content) ended.

    The partial index keeps an entry for every row once queued until a vacuum, so a claim
    that starts at the head of a content walks past every row claimed before it (hundreds of
    thousands in a large alert). A claimer draining one content starts after its own last
    row instead; when that finds fewer than a full batch (the end of the content, rows taken
    by others, retries due again behind it) the next claim looks from the head as before.
    """

    alert_id: int = 0
    content_id: int = 0
    priority: int = 0
    after: int = 0


class _ClaimStep:
    """Claims of one transaction: per alert, from the claimer's cursor or from the head."""

    def __init__(
        self, conn: sa.Connection, sql: sa.TextClause, params: dict[str, object], n: int
    ) -> None:
        self.conn, self.sql, self.params, self.n = conn, sql, params, n

    def alert(self, alert_id: int, cursor: ClaimCursor | None, clock: _Stages) -> list[Claimed]:
        """Claim from ``alert_id``; empty when it has nothing due."""
        if cursor is not None and cursor.alert_id == alert_id and cursor.after:
            rows = self._rows(alert_id, cursor.content_id, cursor.priority, cursor.after)
            clock.lap("update")
            if rows:
                self._move(cursor, alert_id, cursor.content_id, cursor.priority, rows)
                return rows
        first = self.conn.execute(_PICK_CONTENT, {"alert": alert_id, "now": self.params["now"]})
        head = first.first()
        clock.lap("pick")
        if head is None:
            return []
        rows = self._rows(alert_id, int(head[0]), int(head[1]), 0)
        clock.lap("update")
        if rows and cursor is not None:
            self._move(cursor, alert_id, int(head[0]), int(head[1]), rows)
        return rows

    def _rows(self, alert_id: int, content_id: int, priority: int, after: int) -> list[Claimed]:
        params = {**self.params, "alert": alert_id, "content": content_id, "prio": priority}
        rows = self.conn.execute(self.sql, {**params, "after": after}).all()
        return sorted((Claimed(*r) for r in rows), key=_by_id)

    def _move(
        self,
        cursor: ClaimCursor,
        alert_id: int,
        content_id: int,
        priority: int,
        rows: list[Claimed],
    ) -> None:
        full = len(rows) >= self.n
        cursor.alert_id, cursor.content_id, cursor.priority = alert_id, content_id, priority
        cursor.after = rows[-1].id if full else 0


class _Stages:
    """Adds the time since the previous lap to a named stage (when asked to keep stages)."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Close the current stage under ``name``."""
        if self.stages is None:
            return
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self.last
        self.last = now


def reclaim(engine: Engine, *, batch_id: str, n: int, lease_s: float) -> list[Claimed]:
    """Claim up to ``n`` rows whose lease ran out (a crashed or stalled worker's batch)."""
    with engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        now = utcnow()
        rows = conn.execute(
            _subquery_ids(_RECLAIM, pg, "FOR UPDATE OF d SKIP LOCKED"),
            {
                "lease": db_time(conn, now + timedelta(seconds=lease_s)),
                "batch": batch_id,
                "now": db_time(conn, now),
                "n": n,
            },
        ).all()
        return sorted((Claimed(*r) for r in rows), key=_by_id)


def _by_ids(conn: sa.Connection, sql: str) -> sa.TextClause:
    """``sql`` with ``{ids}`` matching the ``ids`` parameter: one array on PostgreSQL (a
    1,000-element IN list is parsed and planned per call), an expanded IN list on SQLite."""
    if conn.dialect.name == "postgresql":
        return sa.text(sql.format(ids="id = ANY(CAST(:ids AS bigint[]))"))
    return sa.text(sql.format(ids="id IN :ids")).bindparams(sa.bindparam("ids", expanding=True))


def begin_submit(engine: Engine, ids: Sequence[int], batch_id: str) -> list[int]:
    """Move claimed rows to ``submitting`` unless a cancel got there first; returns those moved.

    This row-locked transition is what makes "nothing is submitted after the cancel was
    acknowledged" hold: a cancel either wins (rows cancelled, nothing sent) or waits for the
    rows already ``submitting`` to finish before it acknowledges.
    """
    if not ids:
        return []
    with engine.begin() as conn:
        q = _by_ids(
            conn,
            "UPDATE delivery SET state = 'submitting' WHERE {ids} AND state = 'claimed' "
            "AND batch_id = :b RETURNING id",
        )
        return sorted(int(r[0]) for r in conn.execute(q, {"ids": list(ids), "b": batch_id}))


def renew(engine: Engine, ids: Sequence[int], batch_id: str, lease_s: float) -> set[int]:
    """Extend the lease of the rows ``batch_id`` still holds; returns their ids.

    A batch waiting for rate-limit tokens can take longer than one lease; without renewal
    another worker would reclaim its rows and both would submit them.
    """
    if not ids:
        return set()
    with engine.begin() as conn:
        q = _by_ids(
            conn,
            "UPDATE delivery SET lease_until = :lease WHERE {ids} AND batch_id = :b "
            "AND state = 'submitting' RETURNING id",
        )
        lease = db_time(conn, utcnow() + timedelta(seconds=lease_s))
        rows = conn.execute(q, {"ids": list(ids), "b": batch_id, "lease": lease})
        return {int(r[0]) for r in rows}


# One statement per batch on PostgreSQL, attempt history included. The recipients of one
# SubmitReq share their outcome (state, MessageID, status), so the outcomes travel once per
# group and each row carries only its id and group number, both as array literals: psycopg's
# per-element list dumping and a COPY of 1,000 attempt rows from Python were a third of a
# worker's CPU. Every outcome gets its attempt row (what was sent), whether or not the row
# was still this batch's to update. The state test is written so that it does not match the
# predicate of ``ix_delivery_leased``: otherwise the planner, whose statistics say almost
# nothing is in flight, reads every in-flight row of every worker through that index instead
# of looking the batch's rows up by primary key.
_RECORD_PG = sa.text(
    "WITH g AS (SELECT * FROM unnest(CAST(:states AS text[]), CAST(:mids AS text[]),"
    " CAST(:codes AS int[]), CAST(:https AS int[]), CAST(:reasons AS text[]),"
    " CAST(:retry AS float8[])) WITH ORDINALITY AS g(state, mid, code, http, reason, retry, n)),"
    " v AS MATERIALIZED (SELECT x.id, g.state, g.mid, g.code, g.http, g.reason, g.retry"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:grp AS int[])) AS x(id, n) JOIN g ON g.n = x.n),"
    " u AS (UPDATE delivery d SET state = v.state, message_id = COALESCE(v.mid, d.message_id),"
    " status_code = v.code, reason = v.reason,"
    " submitted_at = CASE WHEN v.state = 'submitted' THEN :t ELSE d.submitted_at END,"
    " final_at = CASE WHEN v.state = 'failed' THEN :t ELSE d.final_at END,"
    " next_attempt_at = :t + make_interval(secs => v.retry), lease_until = NULL"
    " FROM v WHERE d.id = v.id AND d.batch_id = :batch AND (d.state || '') = 'submitting')"
    " INSERT INTO delivery_attempt (delivery_id, batch_id, at, status_code, outcome, http_status)"
    " SELECT v.id, :batch, :t, v.code, v.state, v.http FROM v"
)


def _int_array(values: Sequence[int]) -> str:
    """A PostgreSQL array literal of integers (cast in SQL)."""
    return "{" + ",".join(map(str, values)) + "}"


def _record_params(batch_id: str, t: object, outcomes: Sequence[Outcome]) -> dict[str, object]:
    """Parameters of ``_RECORD_PG``: one entry per distinct outcome, a group number per row."""
    groups: dict[tuple[object, ...], int] = {}
    grp: list[int] = []
    for o in outcomes:
        retry = o.retry_in_s if o.state == "queued" else 0.0
        key = (o.state, o.message_id, o.status_code, o.http_status, o.reason, retry)
        grp.append(groups.setdefault(key, len(groups) + 1))
    keys = list(groups)
    return {
        "t": t,
        "batch": batch_id,
        "ids": _int_array([o.delivery_id for o in outcomes]),
        "grp": _int_array(grp),
        "states": [k[0] for k in keys],
        "mids": [k[1] for k in keys],
        "codes": [k[2] for k in keys],
        "https": [k[3] for k in keys],
        "reasons": [k[4] for k in keys],
        "retry": [k[5] for k in keys],
    }


_RECORD_ONE = sa.text(
    "UPDATE delivery SET state = :state, message_id = COALESCE(:mid, message_id), status_code = :code,"
    " reason = :reason, submitted_at = COALESCE(:sub_at, submitted_at),"
    " final_at = COALESCE(:fin_at, final_at),"
    " next_attempt_at = :next, lease_until = NULL"
    " WHERE id = :id AND state = 'submitting' AND batch_id = :batch"
)


def record(engine: Engine, alert_id: int, batch_id: str, outcomes: Sequence[Outcome]) -> None:
    """Write a batch's outcomes and attempt history in one transaction (one UPDATE on PostgreSQL)."""
    if not outcomes:
        return
    now = utcnow()
    with engine.begin() as conn:
        t = db_time(conn, now)
        if conn.dialect.name == "postgresql":
            conn.execute(_RECORD_PG, _record_params(batch_id, t, outcomes))
        else:
            params = [_params(conn, o, now, t) for o in outcomes]
            conn.execute(_RECORD_ONE, [{**p, "batch": batch_id} for p in params])
            bulk_insert(
                conn,
                "delivery_attempt",
                ("delivery_id", "batch_id", "at", "status_code", "outcome", "http_status"),
                [
                    (o.delivery_id, batch_id, t, o.status_code, o.state, o.http_status)
                    for o in outcomes
                ],
            )
        if any(o.state == "submitted" for o in outcomes):
            conn.execute(
                sa.text(
                    "UPDATE dispatch_plan SET first_submit_at = :t WHERE alert_id = :a "
                    "AND first_submit_at IS NULL"
                ),
                {"t": t, "a": alert_id},
            )


def _params(conn: sa.Connection, o: Outcome, now: datetime, t: object) -> dict[str, object]:
    nxt = db_time(conn, now + timedelta(seconds=o.retry_in_s)) if o.state == "queued" else t
    return {
        "state": o.state,
        "mid": o.message_id,
        "code": o.status_code,
        "reason": o.reason,
        "sub_at": t if o.state == "submitted" else None,
        "fin_at": t if o.state == "failed" else None,
        "next": nxt,
        "id": o.delivery_id,
    }


def release(
    engine: Engine, ids: Sequence[int], *, to_state: str = "queued", reason: str | None = None
) -> None:
    """Give claimed or submitting rows back (graceful shutdown, expired, link stopped)."""
    if not ids:
        return
    with engine.begin() as conn:
        final = to_state in ("expired", "cancelled", "failed")
        q = _by_ids(
            conn,
            "UPDATE delivery SET state = :s, lease_until = NULL, reason = COALESCE(:r, reason), "
            "attempts = attempts - :undo, final_at = COALESCE(:fin_at, final_at) "
            "WHERE {ids} AND state IN ('claimed', 'submitting')",
        )
        fin_at = db_time(conn, utcnow()) if final else None
        conn.execute(
            q,
            {
                "s": to_state,
                "r": reason,
                "undo": 1 if to_state == "queued" else 0,
                "fin_at": fin_at,
                "ids": list(ids),
            },
        )


def sweep(engine: Engine) -> None:
    """Expire alerts past ``expires`` and close plans with nothing left to send.

    A plan still being materialised (``materialized_at`` NULL) is never closed: its next
    chunk may be about to be written.
    """
    with engine.begin() as conn:
        now = db_time(conn, utcnow())
        expired = conn.execute(
            sa.text(
                "SELECT alert_id FROM dispatch_plan WHERE state = 'dispatching' "
                "AND expires_at IS NOT NULL AND expires_at <= :t"
            ),
            {"t": now},
        ).all()
        for (alert_id,) in expired:
            stop_alert(conn, alert_id, PlanState.EXPIRED, reason="alert expired")
        conn.execute(
            sa.text(
                "UPDATE dispatch_plan SET state = 'done' WHERE state = 'dispatching'"
                " AND materialized_at IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.state = 'queued'"
                " AND d.alert_id = dispatch_plan.alert_id)"
                " AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.state IN ('claimed', 'submitting')"
                " AND d.alert_id = dispatch_plan.alert_id)"
            )
        )
        close_reports(conn, utcnow())


def close_reports(
    conn: sa.Connection,
    now: datetime,
    *,
    grace: timedelta = REPORT_GRACE,
    max_wait: timedelta = REPORT_MAX_WAIT,
) -> int:
    """Stop waiting for reports that can no longer come: ``submitted`` -> ``expired``.

    Once per plan (``reports_closed_at``), when the message could no longer be delivered;
    the reason says no report came. Returns the deliveries moved.
    """
    plans = sa.select(
        col(DispatchPlan.alert_id),
        col(DispatchPlan.expires_at),
        col(DispatchPlan.materialized_at),
    ).where(
        col(DispatchPlan.reports_closed_at).is_(None),
        col(DispatchPlan.materialized_at).is_not(None),
    )
    moved = 0
    for alert_id, expires_at, materialized_at in conn.execute(plans).all():
        if expires_at is not None:
            cutoff, why = expires_at + grace, f"{_hours(grace)} after the message expired"
        else:
            assert materialized_at is not None  # the query's condition
            cutoff, why = materialized_at + max_wait, f"{_hours(max_wait)} after it was sent"
        if cutoff > now:
            continue
        res = conn.execute(
            _CLOSE_REPORTS,
            {"a": alert_id, "t": db_time(conn, now), "r": f"no delivery report {why}"},
        )
        conn.execute(_REPORTS_CLOSED, {"a": alert_id, "t": db_time(conn, now)})
        moved += int(res.rowcount or 0)
    return moved


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h"


_CLOSE_REPORTS = sa.text(
    "UPDATE delivery SET state = 'expired', final_at = :t, reason = :r"
    " WHERE alert_id = :a AND state = 'submitted'"
)
_REPORTS_CLOSED = sa.text("UPDATE dispatch_plan SET reports_closed_at = :t WHERE alert_id = :a")


def in_flight(engine: Engine, alert_id: int) -> int:
    """Deliveries of an alert being handed to the MMSC right now."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'submitting'"
                ),
                {"a": alert_id},
            ).scalar_one()
        )


def stop_alert(conn: sa.Connection, alert_id: int, state: PlanState, *, reason: str) -> int:
    """Cancel (or expire) everything of an alert not yet handed to the MMSC; returns rows stopped.

    The plan row is locked and moved first: a chunk of deliveries being materialised either
    committed before (its rows are stopped below) or waits and then sees the plan stopped.
    """
    final = DeliveryState.CANCELLED if state is PlanState.CANCELLED else DeliveryState.EXPIRED
    now = utcnow()
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_PLAN, {"a": alert_id})
    conn.execute(
        sa.text(
            "UPDATE dispatch_plan SET state = :s, cancelled_at = :t WHERE alert_id = :a AND state = 'dispatching'"
        ),
        {"s": state.value, "t": db_time(conn, now), "a": alert_id},
    )
    params = {"s": final.value, "r": reason, "t": db_time(conn, now), "a": alert_id}
    # One statement per state, so each walks its partial index (queued: ix_delivery_queued,
    # claimed: ix_delivery_leased) rather than every row of the alert.
    stopped = 0
    for state_now in ("queued", "claimed"):
        res = conn.execute(_STOP[state_now], params)
        stopped += int(res.rowcount or 0)
    return stopped


_STOP_SET = "UPDATE delivery SET state = :s, reason = :r, final_at = :t, lease_until = NULL "
_STOP = {
    "queued": sa.text(_STOP_SET + "WHERE state = 'queued' AND alert_id = :a"),
    "claimed": sa.text(_STOP_SET + "WHERE state = 'claimed' AND alert_id = :a"),
}


_LOCK_PLAN = sa.text("SELECT 1 FROM dispatch_plan WHERE alert_id = :a FOR UPDATE")
