"""Throwaway PostgreSQL and Redis servers, on loopback, in a temporary directory, on free
ports; nothing is left behind. The one place that starts them, for the production tests
(tests/production/conftest.py) and for `make bench` (scripts/bench/).

Debian's PostgreSQL refuses to run as root (and CI runs as root), so as root its commands run
as the `postgres` user. PG_BIN (default: the newest /usr/lib/postgresql/*/bin) and
REDIS_SERVER (default: redis-server on the PATH) name the binaries; `make
production-services` installs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2
import redis  # type: ignore[import-untyped]

REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
DB_USER = "triage"


def postgres_bin() -> Path | None:
    """PG_BIN, or the newest of Debian's PostgreSQL versions; None when there is none."""
    if "PG_BIN" in os.environ:
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throw-away PostgreSQL cluster: superuser `postgres` over its private socket only,
    and the role `triage`, with a password over TCP on 127.0.0.1, owning the databases."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin = bin_dir or postgres_bin() or Path("/usr/lib/postgresql/15/bin")
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.dir = Path(tempfile.mkdtemp(prefix="triage-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"

    def start(self) -> None:
        if not (self.bin / "postgres").exists():
            raise RuntimeError(f"no PostgreSQL in {self.bin}: run `make production-services`")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        # fsync off: a test database need not survive a power cut, and it starts faster.
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "start")
        self._psql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{self.password}'")

    def create_database(self, name: str) -> dict[str, str]:
        """A new, empty database; returns the DB_* variables of endpoints.production.yml."""
        self._psql(f"CREATE DATABASE {name} OWNER {DB_USER}")
        return {"DB_HOST": "127.0.0.1", "DB_PORT": str(self.port), "DB_NAME": name,
                "DB_USER": DB_USER, "DB_PASSWORD": self.password}

    def _psql(self, sql: str) -> None:
        self._run("psql", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        """A PostgreSQL program, as the postgres user when we are root, from the cluster's
        directory (the postgres user may not enter the checkout)."""
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.dir)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}")

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, dbname=database,
                                      user=DB_USER, password=self.password)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            connection.close()
        return rows


class Redis:
    """A Redis server with a password and no persistence (a lock store's locks live only as
    long as the requests that hold them), restartable on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.dir = Path(tempfile.mkdtemp(prefix="triage-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        if shutil.which(REDIS_SERVER) is None:
            raise RuntimeError(f"no {REDIS_SERVER}: run `make production-services`")
        config = self.dir / "redis.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nrequirepass {self.password}\n"
            f"dir {self.dir}\nsave \"\"\nappendonly no\n",
            encoding="utf-8",
        )
        self.starts += 1
        with (self.dir / f"redis-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen([REDIS_SERVER, str(config)], stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                           socket_timeout=2)

    @property
    def env(self) -> dict[str, str]:
        """The REDIS_* variables of endpoints.production.yml."""
        return {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.port), "REDIS_DB": "1",
                "REDIS_PASSWORD": self.password}


def two_free_ports() -> int:
    """A free port whose next port is free too (RASA_SERVERS=2 uses both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free ports in a row")

