"""The manifests speak the service's settings: every ALERTCAST_ key is a real field, and the
settings validator accepts the shipped configuration where it should and refuses it where it must.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from alerts.settings import Settings
from tests.deploy.k8s import Resource, by_kind

PREFIX = "ALERTCAST_"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the manifests speak: no ALERTCAST_ variable of the test run leaks in."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)


def _strong_secrets(templates: list[Resource]) -> dict[str, str]:
    real = {k: "x" * 32 for k in _secret_env(templates)}
    real["ALERTCAST_DATABASE_URL"] = "postgresql+psycopg://alertcast:pw@alertcast-db-rw:5432/a"
    return real


def _config(resources: list[Resource]) -> dict[str, str]:
    data: dict[str, str] = by_kind(resources, "ConfigMap")["alertcast-config"]["data"]
    return data


def _secret_env(templates: list[Resource]) -> dict[str, str]:
    data: dict[str, str] = by_kind(templates, "Secret")["alertcast-env"]["stringData"]
    return data


def _settings(env: dict[str, str]) -> Settings:
    fields: dict[str, Any] = {k.removeprefix(PREFIX).lower(): v for k, v in env.items()}
    return Settings(**fields)


def test_every_key_is_a_settings_field(
    overlays: dict[str, list[Resource]], secret_templates: list[Resource]
) -> None:
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    keys = set(_secret_env(secret_templates))
    for resources in overlays.values():
        keys |= set(_config(resources))
    assert all(k.startswith(PREFIX) for k in keys)
    unknown = sorted(keys - known)
    assert not unknown, f"not settings of alerts/settings.py: {unknown}"


def test_api_pods_run_neither_worker_nor_simulator(
    overlay: list[Resource], secret_templates: list[Resource]
) -> None:
    settings = _settings({**_config(overlay), **_strong_secrets(secret_templates)})
    assert settings.in_process_worker is False
    assert settings.embedded_mmsc is False
    assert settings.data_dir.as_posix() == "/app/data"


def test_dev_accepts_the_placeholder_templates(
    overlays: dict[str, list[Resource]], secret_templates: list[Resource]
) -> None:
    settings = _settings({**_config(overlays["dev"]), **_secret_env(secret_templates)})
    assert settings.env == "development"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.mmsc_url is not None
    assert settings.mmsc_url.startswith("http://alertcast-mmsc-sim:8100/")


def test_prod_refuses_the_placeholder_templates(
    overlays: dict[str, list[Resource]], secret_templates: list[Resource]
) -> None:
    """If someone applies the templates to production, the pods refuse to start."""
    with pytest.raises(ValidationError, match="real secret"):
        _settings({**_config(overlays["prod"]), **_secret_env(secret_templates)})


def test_prod_accepts_real_looking_secrets(
    overlays: dict[str, list[Resource]], secret_templates: list[Resource]
) -> None:
    settings = _settings({**_config(overlays["prod"]), **_strong_secrets(secret_templates)})
    assert settings.env == "production"
    assert not settings.is_sqlite
