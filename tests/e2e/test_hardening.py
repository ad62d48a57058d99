"""What the servers expose by default, and what they refuse (the production hardening), as the
README's "Hardening" paragraph promises: Rasa's HTTP API off, or on only with RASA_API_TOKEN and
then only with it; CORS headers only for the origins in RASA_CORS; the action server on
127.0.0.1 only. The settings are read by `make run`'s own scripts/serve.py main()."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.serve import BotServers
from tests.e2e.conftest import ALLOWED_ORIGIN, ApiRasa, settings_from_env

pytestmark = pytest.mark.e2e

OTHER_ORIGIN = "https://evil.example"


def request(url: str, method: str = "GET", token: str | None = None,
            origin: str | None = None, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """The status and the headers (names in lower case) of one request."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:  # Rasa's --auth-token is given as a query parameter
        url += ("&" if "?" in url else "?") + f"token={token}"
    if origin is not None:
        sent["Origin"] = origin
    req = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


# --- The API: off by default ------------------------------------------------------------------


def test_by_default_no_tracker_can_be_read_and_no_model_replaced(servers: BotServers) -> None:
    sender = f"victim-{secrets.token_hex(4)}"
    body = json.dumps({"sender": sender, "message": "my boss took my passport"}).encode()
    assert request(servers.webhook_url, "POST", body=body)[0] == 200
    # The conversation exists, but the API that would show it is not there at all.
    assert request(f"{servers.rasa_url}/conversations/{sender}/tracker")[0] == 404
    assert request(f"{servers.rasa_url}/conversations/{sender}/messages", "POST",
                   body=b'{"text": "x", "sender": "user"}')[0] == 404
    assert request(f"{servers.rasa_url}/model", "PUT", body=b"{}")[0] in (404, 405)
    assert request(f"{servers.rasa_url}/status")[0] == 404


def test_by_default_rasa_sends_no_cors_headers(servers: BotServers) -> None:
    _status, headers = request(f"{servers.rasa_url}/webhooks/rest/", origin=OTHER_ORIGIN)
    assert "access-control-allow-origin" not in headers


# --- The API on: RASA_ENABLE_API=1 with RASA_API_TOKEN (the servers_with_api fixture) ---------


def test_with_the_api_on_only_the_token_from_rasa_api_token_opens_it(
    servers_with_api: ApiRasa,
) -> None:
    bot, token = servers_with_api.bot, servers_with_api.token
    sender = f"api-{secrets.token_hex(4)}"
    body = json.dumps({"sender": sender, "message": "my boss took my passport"}).encode()
    assert request(bot.webhook_url, "POST", body=body)[0] == 200  # the chat stays public
    tracker = f"{bot.rasa_url}/conversations/{sender}/tracker"
    for url, method, payload in [
        (tracker, "GET", None),
        (f"{bot.rasa_url}/status", "GET", None),
        (f"{bot.rasa_url}/model/parse", "POST", b'{"text": "hello"}'),
    ]:
        assert request(url, method, body=payload)[0] == 401, url
        assert request(url, method, body=payload, token="wrong-" + token)[0] == 401, url
        assert request(url, method, body=payload, token=token[:-1])[0] == 401, url
        assert request(url, method, body=payload, token=token)[0] == 200, url
    assert request(f"{bot.rasa_url}/model", "PUT", body=b"{}")[0] == 401
    # The token really opened it: the conversation's own messages are there.
    assert servers_with_api.user_texts(sender) == ["my boss took my passport"]


def test_cors_headers_only_for_the_origin_in_rasa_cors(servers_with_api: ApiRasa) -> None:
    bot = servers_with_api.bot
    url = f"{bot.rasa_url}/webhooks/rest/"
    allowed = request(url, origin=ALLOWED_ORIGIN)[1]
    assert allowed.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = request(url, origin=OTHER_ORIGIN)[1]
    assert "access-control-allow-origin" not in other, other
    # A browser's preflight before POSTing a message: allowed for that origin only.
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = request(bot.webhook_url, "OPTIONS", origin=ALLOWED_ORIGIN, headers=preflight)[1]
    assert allowed.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = request(bot.webhook_url, "OPTIONS", origin=OTHER_ORIGIN, headers=preflight)[1]
    assert "access-control-allow-origin" not in other, other


# --- How scripts/serve.py reads RASA_ENABLE_API, RASA_API_TOKEN and RASA_CORS -----------------

TOKEN = "t" * 16  # the shortest the README allows ("16+ characters")


def rasa_args(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> list[str]:
    return settings_from_env(monkeypatch, env, tmp_path).args("rasa-")


def option(args: list[str], name: str) -> list[str]:
    """The values after `name` on a command line, up to the next option."""
    if name not in args:
        return []
    rest = args[args.index(name) + 1 :]
    return rest[: next((i for i, a in enumerate(rest) if a.startswith("--")), len(rest))]


def test_by_default_make_run_starts_rasa_without_its_api_or_cors_on_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    args = rasa_args(monkeypatch, tmp_path)
    assert "--enable-api" not in args and "--auth-token" not in args
    assert "--cors" not in args
    assert option(args, "--interface") == ["127.0.0.1"]


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_rasa_enable_api_other_than_1_leaves_the_api_off_even_with_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str,
) -> None:
    args = rasa_args(monkeypatch, tmp_path, RASA_ENABLE_API=value, RASA_API_TOKEN=TOKEN)
    assert "--enable-api" not in args and TOKEN not in args


def test_rasa_enable_api_1_turns_the_api_on_with_the_token_of_rasa_api_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    args = rasa_args(monkeypatch, tmp_path, RASA_ENABLE_API="1", RASA_API_TOKEN=TOKEN)
    assert "--enable-api" in args
    assert option(args, "--auth-token") == [TOKEN]


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_the_api_never_starts_without_a_token_of_16_characters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str,
) -> None:
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        rasa_args(monkeypatch, tmp_path, RASA_ENABLE_API=value)
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        rasa_args(monkeypatch, tmp_path, RASA_ENABLE_API=value, RASA_API_TOKEN="")
    with pytest.raises(SystemExit, match="at least 16 characters"):
        rasa_args(monkeypatch, tmp_path, RASA_ENABLE_API=value, RASA_API_TOKEN=TOKEN[:-1])


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", []),
        ("   ", []),
        ("https://chat.example.org", ["https://chat.example.org"]),
        ("https://chat.example.org https://partner.example.org",
         ["https://chat.example.org", "https://partner.example.org"]),
        ("  https://chat.example.org   https://partner.example.org ",
         ["https://chat.example.org", "https://partner.example.org"]),
    ],
    ids=["empty", "blank", "one", "two", "extra-spaces"],
)
def test_rasa_cors_is_a_space_separated_list_of_origins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, origins: list[str],
) -> None:
    args = rasa_args(monkeypatch, tmp_path, RASA_CORS=value)
    assert option(args, "--cors") == origins
    assert ("--cors" in args) == bool(origins)  # never an empty --cors (Rasa's "*" is not used)


# --- The action server: 127.0.0.1 only ---------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    """pid and every process under it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it has exited
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = {pid}
    while True:
        more = {child for child, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def _socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (32-bit words in the machine's byte order)."""
    words = [int(hex_address[i : i + 8], 16) for i in range(0, len(hex_address), 8)]
    packed = b"".join(struct.pack("=I", word) for word in words)
    return str(ipaddress.ip_address(packed))


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening in process `pid` or its children, from
    /proc/net/tcp and /proc/net/tcp6: where the kernel has bound it."""
    inodes = _socket_inodes(_descendants(pid))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.add((_address(address), int(port, 16)))
    return found


def test_the_listening_addresses_are_read_from_the_kernel(tmp_path: Path) -> None:
    """The reading of /proc itself: a process listening on every address is seen as such."""
    server = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys; s = socket.socket(); s.bind(('0.0.0.0', 0)); "
         "s.listen(); print(s.getsockname()[1], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())  # printed once it listens
        assert listening_addresses(server.pid) == {("0.0.0.0", port)}
    finally:
        server.kill()
        server.wait()


def _pid_of(servers: BotServers, what: str) -> int:
    [process] = [p for p in servers.processes if isinstance(p.args, list) and what in p.args]
    return process.pid


def test_the_action_server_listens_on_127_0_0_1_only(servers: BotServers) -> None:
    # The kernel's own record of the bound socket, whatever addresses this machine has.
    assert listening_addresses(_pid_of(servers, "actions")) == {
        ("127.0.0.1", servers.actions_port)
    }
    # And it answers there.
    with socket.create_connection(("127.0.0.1", servers.actions_port), timeout=5):
        pass


def test_rasa_listens_on_127_0_0_1_by_default(servers: BotServers) -> None:
    assert listening_addresses(_pid_of(servers, str(servers.model))) == {
        ("127.0.0.1", servers.rasa_port),
        ("127.0.0.1", servers.metrics_ports[servers.rasa_port]),  # its metrics: loopback only
    }
