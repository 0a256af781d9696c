"""Users: argon2 hashes, the CLI, the migration on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerts import migrate
from alerts.access import users
from alerts.access.user_models import User
from alerts.db import make_engine
from alerts.settings import get_settings
from tests.console.conftest import PASSWORD


def test_passwords_are_argon2_hashes(settings, team) -> None:
    engine = make_engine(settings)
    with Session(engine) as s:
        alice = s.exec(select(User).where(User.username == "alice")).one()
        assert alice.password_hash.startswith("$argon2id$")
        assert PASSWORD not in alice.password_hash
        assert (
            users.authenticate_user(session=s, username="alice", password=PASSWORD).id == alice.id
        )
    engine.dispose()


def test_cli_creates_a_user(settings, team, monkeypatch) -> None:
    monkeypatch.setenv("ALERTCAST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ALERTCAST_NEW_USER_PASSWORD", "another long secret")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            users.users_app,
            ["create", "dave", "--agency", "NYC Emergency Management", "--role", "approver"],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "user dave" in result.output
    engine = make_engine(settings)
    with Session(engine) as s:
        dave = s.exec(select(User).where(User.username == "dave")).one()
        assert dave.role == "approver"
    engine.dispose()


def test_users_migration_goes_down_and_up(settings) -> None:
    engine = make_engine(settings)
    try:
        migrate.downgrade(engine, "026896c52733")  # the revision before console users
        assert "console_user" not in sa.inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert "console_user" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
