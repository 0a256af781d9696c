"""Agency and API-key operations."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.access.models import Agency, AgencyCreate, ApiKey, IssuedKey, Principal
from alerts.db import utcnow
from alerts.errors import Conflict, NotFound, Unauthenticated

KEY_PREFIX_LEN = 12


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_agency(*, session: Session, data: AgencyCreate) -> Agency:
    """Create an agency; names are unique."""
    if session.exec(select(Agency).where(Agency.name == data.name)).first():
        raise Conflict(f"agency {data.name!r} already exists")
    agency = Agency.model_validate(data)
    session.add(agency)
    session.flush()
    return agency


def get_agency(*, session: Session, agency_id: int) -> Agency:
    """Fetch one agency or raise NotFound."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"agency {agency_id} does not exist")
    return agency


def find_agency(*, session: Session, ref: str) -> Agency:
    """Find an agency by id or by name."""
    if ref.isdigit():
        return get_agency(session=session, agency_id=int(ref))
    agency = session.exec(select(Agency).where(Agency.name == ref)).first()
    if agency is None:
        raise NotFound(f"agency {ref!r} does not exist")
    return agency


def issue_key(
    *, session: Session, agency_id: int, label: str = "", admin: bool = False
) -> IssuedKey:
    """Create an API key for an agency; the plain key is returned only here."""
    get_agency(session=session, agency_id=agency_id)
    key = "ak_" + secrets.token_urlsafe(32)
    row = ApiKey(
        agency_id=agency_id,
        prefix=key[:KEY_PREFIX_LEN],
        key_hash=_hash(key),
        label=label,
        admin=admin,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return IssuedKey(id=row.id, agency_id=agency_id, key=key)


def authenticate(*, session: Session, key: str) -> Principal:
    """Return the agency and key behind a presented key, comparing hashes in constant time."""
    row = session.exec(
        select(ApiKey).where(ApiKey.prefix == key[:KEY_PREFIX_LEN], ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        raise Unauthenticated("unknown or revoked API key")
    assert row.id is not None
    agency = get_agency(session=session, agency_id=row.agency_id)
    return Principal(agency=agency, key_id=row.id, admin=row.admin)


def authenticate_on(engine: Engine, key: str) -> Principal:
    """``authenticate`` in a short session of its own (the caller needs no session)."""
    with Session(engine, expire_on_commit=False) as session:
        return authenticate(session=session, key=key)


class PrincipalCache:
    """Recently verified API keys, kept for ``ttl_s`` seconds per process (0 turns it off).

    Entries are keyed by the key's SHA-256 digest (the plain key is never stored) and hold the
    principal as verified then. Only successes are kept, so a new key works at once; a revoked
    key, or an agency whose senders changed, takes effect in every process within ``ttl_s``.
    """

    def __init__(self, ttl_s: float, max_entries: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        """The principal verified for this key less than ``ttl_s`` ago, if any."""
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(_hash(key))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        """Remember a successful verification."""
        if self.ttl_s <= 0:
            return
        now = time.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {d: e for d, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[_hash(key)] = (now + self.ttl_s, principal)


def revoke_key(*, session: Session, key_id: int) -> None:
    """Revoke a key; later requests with it get 401 (API processes: within ``API_KEY_CACHE_S``)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    row.revoked_at = utcnow()
    session.add(row)
