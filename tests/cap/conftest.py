"""Fixtures for the CAP library tests: the shared real-world samples."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def samples_dir(shared_data: Path) -> Path:
    return shared_data / "cap" / "samples"


@pytest.fixture(scope="session")
def feeds_dir(shared_data: Path) -> Path:
    return shared_data / "cap" / "feeds"


@pytest.fixture(scope="session")
def sample_bytes(samples_dir: Path):
    def load(name: str) -> bytes:
        return (samples_dir / name).read_bytes()

    return load
