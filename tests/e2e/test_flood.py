"""One client must not lock anyone else out of the chat (issue 17), with the real bot: the page
server alone and behind the project's nginx configuration (deploy/nginx/chat.conf).

One address (127.0.0.1) floods new conversations and messages from another process
(tests/e2e/flood.py, 16 connections); meanwhile a person on another loopback address (127.0.0.2)
starts a conversation every second and says "he has a knife". The person is always answered
with 999 within 2 s (the bound the issue sets), the flooder gets 429, and the page server's peak
memory stays under MEMORY_BOUND_KB. nginx runs as a child process with the repository's file,
changed only where a test must (ports, a throwaway certificate, the log path), and needs
Debian's nginx (`make test-e2e` installs it; NGINX names another binary).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scripts.serve import BotServers
from tests.e2e.conftest import LOG, free_port
from tests.helpers import ROOT

pytestmark = pytest.mark.e2e

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
CHAT_CONF = ROOT / "deploy" / "nginx" / "chat.conf"
DANGER = "he has a knife"
EMERGENCY_FIRST_LINE = "Call 999 now"
ANSWER_BOUND_SECONDS = 2.0  # issue 17: "always answered with 999 within 2 s"
FLOOD_SECONDS = 9.0
PERSON_TURNS = 7  # one a second, within the flood
# The page server starts at about 34 MB; 100,000 open conversations (a full table) add about
# 47 MB (scripts/web.py, Sessions). Under a flood it must stay below this, full table or not.
MEMORY_BOUND_KB = 100 * 1024
FLOODER, PERSON = "127.0.0.1", "127.0.0.2"


@contextmanager
def page_server(servers: BotServers, name: str, **env: str) -> Iterator[BotServers]:
    """The chat page server (its own process, as `make run` starts it) in front of the shared
    Rasa server, with `env` as extra settings."""
    with LOG.with_name(f"e2e-{name}.log").open("w") as log:
        page = BotServers(rasa_port=servers.rasa_port, web_port=free_port(), log=log, env=env)
        page.start_web()
        try:
            page.wait_ready(timeout=60)
            yield page
        finally:
            page.stop()


def peak_memory_kb(page: BotServers) -> int:
    """The page server's peak resident memory (VmHWM) so far."""
    status = Path(f"/proc/{page.processes[0].pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1))


# --- nginx ----------------------------------------------------------------------------------

@dataclass
class Nginx:
    https: str  # https://127.0.0.1:PORT
    http: str
    cafile: str
    error_log: Path
    access_log: Path


def _replace(text: str, old: str, new: str, count: int = 1) -> str:
    """Changes the configuration where the test must, and fails when the file has changed there."""
    assert text.count(old) == count, f"deploy/nginx/chat.conf: expected {count} of {old!r}"
    return text.replace(old, new)


@contextmanager
def nginx(upstream_port: int, workdir: Path) -> Iterator[Nginx]:
    """nginx with deploy/nginx/chat.conf in front of the page server on upstream_port: not as a
    daemon, its pid file, temporary files and logs in workdir (so no root is needed), on free
    loopback ports, with a throwaway self-signed certificate for 127.0.0.1."""
    if not Path(NGINX).exists():
        pytest.fail(f"no nginx at {NGINX}: run `make test-e2e` (installs Debian's nginx)")
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    https_port, http_port = free_port(), free_port()
    text = CHAT_CONF.read_text(encoding="utf-8")
    text = _replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _replace(text, "listen [::]:443 ssl http2;\n", "")
    text = _replace(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace(text, "listen [::]:80;\n", "")
    text = _replace(text, "server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};")
    text = _replace(text, "/etc/letsencrypt/live/chat.example.org/fullchain.pem", str(cert))
    text = _replace(text, "/etc/letsencrypt/live/chat.example.org/privkey.pem", str(key))
    error_log = workdir / "chat.error.log"
    text = _replace(text, "/var/log/nginx/chat.error.log", str(error_log))
    (workdir / "chat.conf").write_text(text, encoding="utf-8")
    access_log = workdir / "access.log"
    temp = " ".join(f"{kind}_temp_path {workdir / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Debian's nginx.conf reduced to what the chat needs; its http-level access log kept, to
    # show that chat.conf turns it off.
    (workdir / "nginx.conf").write_text(
        f"pid {workdir / 'nginx.pid'};\nerror_log {workdir / 'error.log'} info;\n"
        "worker_processes 1;\nevents { worker_connections 512; }\n"
        f"http {{\n  {temp}\n  access_log {access_log};\n"
        f"  include {workdir / 'chat.conf'};\n}}\n", encoding="utf-8")
    with (workdir / "nginx.out").open("w") as out:
        process = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if process.poll() is not None:
                raise AssertionError(f"nginx exited: {(workdir / 'nginx.out').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield Nginx(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}",
                    str(cert), error_log, access_log)
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- The flood and the person ---------------------------------------------------------------

@dataclass
class Turn:
    session: int
    status: int
    seconds: float  # from asking for a conversation to the bot's answer
    first_text: str


async def person(base: str, cafile: str | None, turns: int = PERSON_TURNS) -> list[Turn]:
    """Someone on another address: a new conversation each second, saying DANGER."""
    context = ssl.create_default_context(cafile=cafile) if cafile else True
    connector = aiohttp.TCPConnector(local_addr=(PERSON, 0), ssl=context)
    results: list[Turn] = []
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        start = time.monotonic()
        for turn in range(turns):
            await asyncio.sleep(max(0.0, start + 1 + turn - time.monotonic()))
            began = time.monotonic()
            async with client.post(f"{base}/api/session") as answer:
                session = answer.status
                sid = (await answer.json())["id"] if session == 200 else None
            status, first = 0, ""
            if sid is not None:
                async with client.post(f"{base}/api/message",
                                       json={"id": sid, "message": DANGER}) as answer:
                    status = answer.status
                    replies = await answer.json()
                    first = replies[0].get("text", "") if status == 200 and replies else ""
            results.append(Turn(session, status, time.monotonic() - began, first))
    return results


def flood_while_a_person_talks(
    base: str, cafile: str | None = None,
) -> tuple[dict[str, Any], list[Turn]]:
    """The flood from FLOODER in its own process, and the person's turns meanwhile."""
    args = [sys.executable, "-m", "tests.e2e.flood", base, FLOODER, str(FLOOD_SECONDS)]
    flooder = subprocess.Popen(args + ([cafile] if cafile else []), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        turns = asyncio.run(person(base, cafile))
        out, err = flooder.communicate(timeout=FLOOD_SECONDS + 60)
    finally:
        if flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    assert flooder.returncode == 0, err
    counts: dict[str, Any] = json.loads(out)
    return counts, turns


def assert_the_person_was_answered(turns: list[Turn]) -> None:
    assert [(t.session, t.status) for t in turns] == [(200, 200)] * PERSON_TURNS, turns
    assert all(t.first_text.startswith(EMERGENCY_FIRST_LINE) for t in turns), turns
    slowest = max(t.seconds for t in turns)
    assert slowest < ANSWER_BOUND_SECONDS, turns


def test_one_address_flooding_the_page_server_locks_nobody_out(servers: BotServers) -> None:
    """The page server alone, with its default limits."""
    with page_server(servers, "flood-page") as page:
        counts, turns = flood_while_a_person_talks(page.web_url.rstrip("/"))
        memory = peak_memory_kb(page)
    assert_the_person_was_answered(turns)
    sessions, messages = counts["session"], counts["message"]
    assert sessions.get("429", 0) > 0 and messages.get("429", 0) > 0, counts
    # At most its burst (60) and one every 2 seconds more: the table never fills from one address.
    assert sessions.get("200", 0) <= 60 + FLOOD_SECONDS / 2 + 1, counts
    # Messages reaching the bot: its burst (30) and 5 a second, whatever it sends.
    assert messages.get("200", 0) <= 30 + 5 * FLOOD_SECONDS + 1, counts
    assert set(sessions) | set(messages) <= {"200", "403", "429"}, counts
    assert memory < MEMORY_BOUND_KB, memory


def test_one_address_flooding_through_nginx_locks_nobody_out(
    servers: BotServers, tmp_path: Path,
) -> None:
    """The same flood through nginx (deploy/nginx/chat.conf), over HTTPS."""
    with page_server(servers, "flood-nginx-page", TRUSTED_PROXIES="127.0.0.1") as page, \
            nginx(page.web_port or 0, tmp_path) as proxy:
        counts, turns = flood_while_a_person_talks(proxy.https, proxy.cafile)
        memory = peak_memory_kb(page)
    assert_the_person_was_answered(turns)
    sessions, messages = counts["session"], counts["message"]
    assert sessions.get("429", 0) > 0 and messages.get("429", 0) > 0, counts
    assert sessions.get("200", 0) <= 60 + FLOOD_SECONDS / 2 + 1, counts
    assert messages.get("200", 0) <= 30 + 5 * FLOOD_SECONDS + 1, counts
    assert memory < MEMORY_BOUND_KB, memory
    # Nobody's address is written down: no access log, nothing in the chat's error log.
    assert proxy.access_log.read_text() == ""
    assert "127.0.0." not in proxy.error_log.read_text()


# --- nginx's own limits, and the address the page server sees --------------------------------

async def _post(base: str, path: str, local: str, cafile: str | None, **kwargs: Any,
                ) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=cafile) if cafile else True
    connector = aiohttp.TCPConnector(local_addr=(local, 0), ssl=context)
    method = kwargs.pop("method", "POST")
    async with aiohttp.ClientSession(connector=connector) as client, \
            client.request(method, f"{base}{path}", **kwargs) as answer:
        body = await answer.read()
        try:
            return answer.status, json.loads(body)
        except ValueError:
            return answer.status, body.decode(errors="replace")


def post(base: str, path: str, local: str, cafile: str | None = None,
         **kwargs: Any) -> tuple[int, Any]:
    return asyncio.run(_post(base, path, local, cafile, **kwargs))


PAGE_LIMIT = {"error": "too many new conversations from this address"}
NGINX_LIMIT = {"error": "too many requests"}


def test_through_nginx_the_page_server_sees_each_real_address_and_only_through_it(
    servers: BotServers, tmp_path: Path,
) -> None:
    """A page server allowing 3 new conversations per address, behind nginx, which connects to
    it from 127.0.0.1 for every client: it tells the clients apart by the address nginx passes
    on, never by one a client writes; and a client talking to it directly cannot name one."""
    with page_server(servers, "nginx-address-page", TRUSTED_PROXIES="127.0.0.1",
                     LIMIT_SESSIONS_BURST="3", LIMIT_SESSIONS_PER_MINUTE="0.01") as page, \
            nginx(page.web_port or 0, tmp_path) as proxy:
        https, ca = proxy.https, proxy.cafile
        direct = page.web_url.rstrip("/")
        statuses = [post(https, "/api/session", PERSON, ca)[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert post(https, "/api/session", PERSON, ca) == (429, PAGE_LIMIT)
        # A client's own X-Forwarded-For is replaced by nginx: no fresh bucket.
        forged = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
        assert post(https, "/api/session", PERSON, ca, headers=forged) == (429, PAGE_LIMIT)
        # Another address through the same nginx has its own.
        assert post(https, "/api/session", "127.0.0.3", ca)[0] == 200
        # Straight to the page server, from an address that is not a trusted proxy: the
        # header is ignored, and the peer's address counts.
        for n in range(3):
            header = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert post(direct, "/api/session", "127.0.0.4", headers=header)[0] == 200
        assert post(direct, "/api/session", "127.0.0.4",
                    headers={"X-Forwarded-For": "203.0.113.77"}) == (429, PAGE_LIMIT)
        # The chat works through nginx, for a browser on the chat's own page (its Origin is
        # nginx's address, port included) and for no other site's page.
        own_page = {"Origin": https}
        status, session = post(https, "/api/session", "127.0.0.5", ca, headers=own_page)
        assert status == 200
        status, replies = post(https, "/api/message", "127.0.0.5", ca, headers=own_page,
                               json={"id": session["id"], "message": DANGER})
        assert status == 200 and replies[0]["text"].startswith(EMERGENCY_FIRST_LINE)
        other_site = {"Origin": "https://evil.example"}
        assert post(https, "/api/session", "127.0.0.5", ca, headers=other_site)[0] == 403


def test_nginx_limits_apply(servers: BotServers, tmp_path: Path) -> None:
    """nginx's own limits, with 429 (not its default 503) and Retry-After: new conversations
    (60 at once), request bodies (8 KiB, as the page server) and headers (8 KiB); plain HTTP
    only redirects."""
    with page_server(servers, "nginx-limits-page", TRUSTED_PROXIES="127.0.0.1",
                     LIMIT_SESSIONS_BURST="1000") as page, \
            nginx(page.web_port or 0, tmp_path) as proxy:
        https, ca = proxy.https, proxy.cafile

        async def sessions(count: int) -> list[tuple[int, Any, str | None]]:
            context = ssl.create_default_context(cafile=ca)
            connector = aiohttp.TCPConnector(local_addr=(PERSON, 0), ssl=context)
            out = []
            async with aiohttp.ClientSession(connector=connector) as client:
                for _ in range(count):
                    async with client.post(f"{https}/api/session") as answer:
                        out.append((answer.status, await answer.json(),
                                    answer.headers.get("Retry-After")))
            return out

        answers = asyncio.run(sessions(70))
        statuses = [status for status, _, _ in answers]
        # 61 at once (one, and a burst of 60), then one every 2 seconds at most.
        assert statuses[:61] == [200] * 61, statuses
        assert 429 in statuses[61:], statuses
        assert answers[statuses.index(429)][1:] == (NGINX_LIMIT, "2")

        session = post(https, "/api/session", "127.0.0.3", ca)[1]["id"]
        empty = len(json.dumps({"id": session, "message": ""}).encode())

        def body(size: int) -> bytes:
            return json.dumps({"id": session, "message": "a" * (size - empty)}).encode()

        headers = {"Content-Type": "application/json"}
        assert post(https, "/api/message", "127.0.0.3", ca, data=body(8 * 1024),
                    headers=headers)[0] == 200
        assert post(https, "/api/message", "127.0.0.3", ca, data=body(8 * 1024 + 1),
                    headers=headers)[0] == 413
        assert post(https, "/api/session", "127.0.0.3", ca,
                    headers={"X-Padding": "a" * 9000})[0] == 400
        redirect = post(proxy.http, "/api/session", "127.0.0.3", allow_redirects=False)
        assert redirect[0] == 301
        assert_connections_are_limited(proxy)
    assert proxy.access_log.read_text() == ""
    assert "127.0.0." not in proxy.error_log.read_text()


CONNECTIONS_PER_ADDRESS = 20  # limit_conn chat_conn 20


def assert_connections_are_limited(proxy: Nginx) -> None:
    """An address holding 20 requests open (each waiting for a body it never sends) gets 429
    for the next one, while another address is served; once it lets them go, it is served
    again."""
    context = ssl.create_default_context(cafile=proxy.cafile)
    port = int(proxy.https.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(CONNECTIONS_PER_ADDRESS):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                           source_address=("127.0.0.6", 0))
            conn = context.wrap_socket(raw, server_hostname="127.0.0.1")
            conn.sendall(f"POST /api/message HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                         .encode())
            held.append(conn)
        # nginx takes the held requests in its own time: ask until it counts all of them.
        answers = []
        for _ in range(50):
            answers.append(post(proxy.https, "/healthz", "127.0.0.6", proxy.cafile,
                                method="GET"))
            if answers[-1][0] == 429:
                break
            time.sleep(0.1)
        assert answers[-1] == (429, NGINX_LIMIT), answers
        assert post(proxy.https, "/healthz", "127.0.0.7", proxy.cafile, method="GET")[0] == 200
    finally:
        for conn in held:
            conn.close()
    for _ in range(50):  # nginx notices the closed connections in its own time too
        if post(proxy.https, "/healthz", "127.0.0.6", proxy.cafile, method="GET")[0] == 200:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("still refused after its connections closed")
