"""No real secret is committed: Secrets are templates whose values are REPLACE_ME placeholders."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.deploy.k8s import K8S, Resource, by_kind, key, load_yaml_files

PLACEHOLDER = "REPLACE_ME"
# Things that look like key material wherever they appear under deploy/k8s.
KEY_MATERIAL = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-"
)


def placeholder_only(value: str) -> bool:
    """REPLACE_ME itself, or a URL whose only credential is a REPLACE_ME password."""
    if value == PLACEHOLDER:
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) and parts.password == PLACEHOLDER


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("REPLACE_ME", True),
        ("postgresql+psycopg://alertcast:REPLACE_ME@db:5432/alertcast", True),
        ("postgresql://alertcast:s3cr3t@db:5432/alertcast", False),
        ("postgresql://alertcast@db:5432/alertcast", False),
        ("hunter2", False),
        ("", False),
    ],
)
def test_placeholder_rule(value: str, ok: bool) -> None:
    assert placeholder_only(value) is ok


def _check_secret(secret: Resource) -> None:
    assert "data" not in secret, f"{key(secret)}: use stringData with placeholders, not data"
    values = secret.get("stringData", {})
    assert values, key(secret)
    for name, value in values.items():
        assert placeholder_only(value), f"{key(secret)}: {name} holds a non-placeholder value"


def test_every_secret_in_the_repo_is_a_placeholder_template() -> None:
    secrets = [doc for _, doc in load_yaml_files(K8S) if doc.get("kind") == "Secret"]
    assert secrets
    for secret in secrets:
        _check_secret(secret)


def test_built_secrets_are_placeholders(overlay: list[Resource]) -> None:
    for secret in by_kind(overlay, "Secret").values():
        _check_secret(secret)


def test_prod_applies_no_secret(overlays: dict[str, list[Resource]]) -> None:
    """Applying prod must never overwrite the real Secrets with templates."""
    assert not by_kind(overlays["prod"], "Secret")


def test_templates_cover_every_secret_setting(secret_templates: list[Resource]) -> None:
    env = by_kind(secret_templates, "Secret")["alertcast-env"]["stringData"]
    assert set(env) == {
        "ALERTCAST_DATABASE_URL",
        "ALERTCAST_SECRET_KEY",
        "ALERTCAST_MMSC_USER",
        "ALERTCAST_MMSC_PASSWORD",
        "ALERTCAST_MM7_INBOUND_USER",
        "ALERTCAST_MM7_INBOUND_PASSWORD",
    }
    assert env["ALERTCAST_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_no_key_material_anywhere_under_deploy() -> None:
    for path in sorted(K8S.rglob("*")):
        if path.is_file():
            assert not KEY_MATERIAL.search(path.read_text()), path
