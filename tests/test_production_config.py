"""endpoints.production.yml and how scripts/serve.py fills its environment, without servers."""

from __future__ import annotations

import pytest
from rasa.utils.endpoints import read_endpoint_config

from scripts import serve
from scripts.serve import ROOT, endpoints_environment

PRODUCTION = ROOT / "endpoints.production.yml"
REQUIRED = {"DB_HOST": "db.internal", "DB_USER": "triage", "DB_PASSWORD": "s3cret",
            "REDIS_HOST": "redis.internal"}


def test_required_variables_are_named_when_unset() -> None:
    with pytest.raises(SystemExit, match="DB_HOST, DB_PASSWORD, DB_USER, REDIS_HOST"):
        endpoints_environment(PRODUCTION, {})


def test_optional_variables_get_their_defaults() -> None:
    env = endpoints_environment(PRODUCTION, {**REQUIRED, "DB_PORT": "6543"})
    assert env == {**REQUIRED, "DB_PORT": "6543", "DB_NAME": "triage", "REDIS_PORT": "6379",
                   "REDIS_DB": "1", "REDIS_PASSWORD": "", "TRACKER_RETENTION_MINUTES": "30"}


def test_the_development_endpoints_need_nothing() -> None:
    assert endpoints_environment(ROOT / "endpoints.yml", {}) == {}


def test_rasa_reads_the_production_stores_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in endpoints_environment(PRODUCTION, REQUIRED).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    tracker = read_endpoint_config(str(PRODUCTION), "tracker_store")
    assert tracker is not None
    assert tracker.type == "addons.counting.CountingSQLTrackerStore"
    assert tracker.url == "db.internal"
    assert tracker.kwargs == {"dialect": "postgresql", "port": "5432", "db": "triage",
                              "username": "triage", "password": "s3cret",
                              "retention_minutes": "30"}
    lock = read_endpoint_config(str(PRODUCTION), "lock_store")
    assert lock is not None and lock.type == "addons.lock_store.AtomicRedisLockStore"
    assert lock.url == "redis.internal"
    assert lock.kwargs == {"port": "6379", "db": "1", "password": ""}
    action = read_endpoint_config(str(PRODUCTION), "action_endpoint")
    assert action is not None and action.url == "http://127.0.0.1:5055/webhook"


def test_several_rasa_servers_need_the_shared_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENDPOINTS", raising=False)
    monkeypatch.setenv("RASA_SERVERS", "2")
    with pytest.raises(SystemExit, match="needs shared stores"):
        serve.main()
