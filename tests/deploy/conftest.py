"""Fixtures for the deploy tests: the built overlays, once per session."""

from __future__ import annotations

import pytest

from tests.deploy.k8s import K8S, OVERLAYS, Resource, build


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[Resource]]:
    """Every overlay built with kustomize, keyed by overlay name."""
    return {name: build(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def secret_templates() -> list[Resource]:
    """The Secret templates in base/secrets, as kustomize builds them."""
    return build(K8S / "base" / "secrets")


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, overlays: dict[str, list[Resource]]) -> list[Resource]:
    """One built overlay (the test runs once per overlay)."""
    name: str = request.param
    return overlays[name]
