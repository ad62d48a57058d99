"""What the servers expose by default, and what they refuse (the production hardening)."""

from __future__ import annotations

import json
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import BotServers
from tests.e2e.conftest import rasa_alone

pytestmark = pytest.mark.e2e

ALLOWED_ORIGIN = "https://chat.example.org"


def request(url: str, method: str = "GET", token: str | None = None,
            origin: str | None = None, body: bytes | None = None) -> tuple[int, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:  # Rasa's --auth-token is given as a query parameter
        url += ("&" if "?" in url else "?") + f"token={token}"
    if origin is not None:
        headers["Origin"] = origin
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def non_loopback_address() -> str | None:
    """This machine's address on its network (the one used to reach other hosts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def servers_with_api() -> Iterator[tuple[BotServers, str]]:
    """Rasa with its HTTP API switched on, as RASA_ENABLE_API + RASA_API_TOKEN do."""
    token = secrets.token_urlsafe(24)
    with rasa_alone("e2e-servers-api.log", api_token=token,
                    cors_origins=[ALLOWED_ORIGIN]) as bot:
        yield bot, token


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
    _status, headers = request(f"{servers.rasa_url}/webhooks/rest/", origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in headers


def test_with_the_api_on_a_request_without_the_token_is_refused(
    servers_with_api: tuple[BotServers, str],
) -> None:
    bot, token = servers_with_api
    tracker = f"{bot.rasa_url}/conversations/someone/tracker"
    assert request(tracker)[0] == 401
    assert request(tracker, token="wrong-" + token)[0] in (401, 403)
    assert request(f"{bot.rasa_url}/model", "PUT", body=b"{}")[0] == 401
    assert request(tracker, token=token)[0] == 200


def test_cors_headers_only_for_the_allowed_origin(
    servers_with_api: tuple[BotServers, str],
) -> None:
    bot, _token = servers_with_api
    url = f"{bot.rasa_url}/webhooks/rest/"
    allowed = request(url, origin=ALLOWED_ORIGIN)[1]
    assert allowed.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    other = request(url, origin="https://evil.example")[1]
    assert other.get("Access-Control-Allow-Origin") in (None, ALLOWED_ORIGIN)
    assert other.get("Access-Control-Allow-Origin") != "https://evil.example"


def test_the_api_never_starts_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from scripts.serve import api_token_from_env

    monkeypatch.setenv("RASA_ENABLE_API", "1")
    monkeypatch.delenv("RASA_API_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        api_token_from_env()
    monkeypatch.setenv("RASA_API_TOKEN", "short")
    with pytest.raises(SystemExit, match="16 characters"):
        BotServers(api_token="short", model=Path("unused"))._rasa_hardening_args()


def test_the_action_server_is_not_reachable_from_the_network(servers: BotServers) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no network address other than loopback")
    # It answers on loopback...
    with socket.create_connection(("127.0.0.1", servers.actions_port), timeout=5):
        pass
    # ...and refuses the machine's network address.
    with pytest.raises(OSError):
        socket.create_connection((address, servers.actions_port), timeout=5).close()
