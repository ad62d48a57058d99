"""Real PostgreSQL and Redis for the production tests (scripts/services.py), started
once per session on loopback; each test module makes a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import DEFAULT_MODEL
from scripts.services import Postgres, Redis

LOG_DIR = Path(__file__).resolve().parents[2] / "build" / "production"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train`")
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    server = Redis()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def log_dir() -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR
