"""Issue 15's counts on real PostgreSQL: conversations saved through the production tracker
store (endpoints.production.yml's CountingSQLTrackerStore) and redacted give the counts the
conversations did (the same as make run's file, tests/test_counts.py); one roll-up at a time
across servers; make report from the DB_* settings, with nothing typed in its files."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import create_tracker_store
from rasa.utils.endpoints import read_endpoint_config

from addons import counts
from addons.counting import CountingSQLTrackerStore
from scripts import report
from scripts.serve import ROOT, endpoints_environment
from scripts.services import Postgres
from tests.test_counts import DOMAIN, TYPED, by_metric, conversations, converse, expected_counts

pytestmark = pytest.mark.production


@pytest.fixture(scope="module")
def database(postgres: Postgres) -> dict[str, str]:
    return postgres.create_database("counts")


@pytest.fixture(scope="module")
def store(database: dict[str, str]) -> CountingSQLTrackerStore:
    """The tracker store as Rasa makes it from endpoints.production.yml."""
    env = {**endpoints_environment(ROOT / "endpoints.production.yml",
                                   {**database, "REDIS_HOST": "127.0.0.1"}),
           "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook"}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = read_endpoint_config(str(ROOT / "endpoints.production.yml"), "tracker_store")
        store = create_tracker_store(config, DOMAIN)
    assert isinstance(store, CountingSQLTrackerStore)

    async def talk() -> None:
        for sender, turns in conversations():
            await converse(store, sender, turns)

    asyncio.run(talk())
    while store.redact_idle(now=time.time() + 3600):
        pass
    return store


def test_counts_from_postgres_equal_what_the_conversations_did(
    store: CountingSQLTrackerStore, postgres: Postgres, database: dict[str, str]
) -> None:
    stored = " ".join(row[0] for row in postgres.query(database["DB_NAME"],
                                                       "SELECT data FROM events"))
    assert not [word for word in TYPED if word in stored]  # redacted before counting
    assert counts.roll_up(store.engine) is not None
    assert by_metric(store.engine) == expected_counts()
    # The roll-up reads days by timestamp through its own index, built without a lock on saves.
    assert postgres.query(database["DB_NAME"], "SELECT indexdef FROM pg_indexes WHERE "
                          "indexname = 'events_timestamp_counts'") == [
        ("CREATE INDEX events_timestamp_counts ON public.events USING btree (\"timestamp\")",)]


def test_one_roll_up_at_a_time(store: CountingSQLTrackerStore) -> None:
    with store.engine.connect() as other:  # another server, rolling up
        other.execute(sa.text("SELECT pg_advisory_lock(:key)"),
                      {"key": counts.ADVISORY_LOCK_KEY})
        try:
            assert counts.roll_up(store.engine) is None
        finally:
            other.execute(sa.text("SELECT pg_advisory_unlock(:key)"),
                          {"key": counts.ADVISORY_LOCK_KEY})
    assert counts.roll_up(store.engine) is not None


def test_make_report_reads_production_from_the_db_settings(
    store: CountingSQLTrackerStore, database: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in database.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "report"
    assert report.main(["--out", str(out), "--counts-db", str(tmp_path / "none")]) == 0
    csv = (out / "counts.csv").read_text()
    period = time.strftime("%Y-%m", time.gmtime())
    assert f"{period},route,someone_else,10" in csv.splitlines()  # 12 conversations
    assert f"{period},route,professional,withheld" in csv.splitlines()  # 3
    for path in out.iterdir():
        data = path.read_bytes()
        assert not [word for word in TYPED if word.encode() in data], path.name
        assert b"sender-" not in data, path.name


def test_a_read_only_role_reads_the_counts_and_nothing_else(
    store: CountingSQLTrackerStore, postgres: Postgres, database: dict[str, str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/operations.md's role for Grafana or Metabase: daily_counts, and nothing else."""
    counts.roll_up(store.engine)
    password = secrets.token_urlsafe(16)
    postgres._psql(f"CREATE ROLE counts_reader LOGIN PASSWORD '{password}'")
    owner = psycopg2.connect(host=database["DB_HOST"], port=database["DB_PORT"],
                             dbname=database["DB_NAME"], user=database["DB_USER"],
                             password=database["DB_PASSWORD"])
    owner.autocommit = True
    with owner.cursor() as cursor:  # as docs/operations.md gives them
        cursor.execute(f"GRANT CONNECT ON DATABASE {database['DB_NAME']} TO counts_reader")
        cursor.execute("GRANT USAGE ON SCHEMA public TO counts_reader")
        cursor.execute("GRANT SELECT ON daily_counts TO counts_reader")
    owner.close()
    reader = {**database, "DB_USER": "counts_reader", "DB_PASSWORD": password}
    for name, value in reader.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "report"
    assert report.main(["--out", str(out), "--no-rollup"]) == 0
    period = time.strftime("%Y-%m", time.gmtime())
    assert f"{period},route,someone_else,10" in (out / "counts.csv").read_text().splitlines()
    # It cannot roll up (make report says so), nor read the conversations.
    assert report.main(["--out", str(tmp_path / "again")]) == 1
    connection = psycopg2.connect(host=reader["DB_HOST"], port=reader["DB_PORT"],
                                  dbname=reader["DB_NAME"], user="counts_reader",
                                  password=password)
    try:
        with connection.cursor() as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("SELECT sender_id FROM events")
    finally:
        connection.close()
