"""Report catalogue links that are dead or have moved.

Usage: python scripts/check_links.py [--catalogue FILE] [--timeout S] [--cafile PEM]

Each link gets a HEAD request (GET when HEAD is refused), without following redirects:
2xx is fine, 3xx has moved (the new address is shown), 4xx, 5xx or no answer is dead.
Exits 1 when any link is dead or has moved, so the catalogue can be updated.
"""

from __future__ import annotations

import argparse
import ssl
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.catalogue import load_catalogue  # noqa: E402

USER_AGENT = "uk-modern-slavery-triage-link-check/1.0"


@dataclass(frozen=True)
class LinkStatus:
    entry_id: str
    url: str
    state: str  # "ok", "moved" or "dead"
    detail: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # report the redirect instead of following it


def _request(url: str, method: str, timeout: float, context: ssl.SSLContext) -> tuple[int, str]:
    opener = urllib.request.build_opener(
        _NoRedirect(), urllib.request.HTTPSHandler(context=context)
    )
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as error:
        return int(error.code), error.headers.get("Location", "") or ""


def check_url(entry_id: str, url: str, timeout: float, context: ssl.SSLContext) -> LinkStatus:
    try:
        status, location = _request(url, "HEAD", timeout, context)
        if status in (403, 405, 501):  # some servers refuse HEAD but answer GET
            status, location = _request(url, "GET", timeout, context)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return LinkStatus(entry_id, url, "dead", f"no answer ({reason})")
    if 200 <= status < 300:
        return LinkStatus(entry_id, url, "ok", str(status))
    if 300 <= status < 400:
        return LinkStatus(entry_id, url, "moved", f"{status} -> {location or '?'}")
    return LinkStatus(entry_id, url, "dead", f"HTTP {status}")


def check_catalogue(
    path: Path | None, timeout: float, cafile: str | None, workers: int = 8
) -> list[LinkStatus]:
    catalogue = load_catalogue(path)
    context = ssl.create_default_context(cafile=cafile)
    links = [entry for entry in catalogue.entries if entry.url]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(lambda e: check_url(e.id, e.url or "", timeout, context), links)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--cafile", default=None, help="extra CA certificates (for tests)")
    args = parser.parse_args(argv)

    results = check_catalogue(args.catalogue, args.timeout, args.cafile)
    problems = [r for r in results if r.state != "ok"]
    for result in sorted(problems, key=lambda r: (r.state, r.entry_id)):
        print(f"{result.state.upper():5}  {result.entry_id}: {result.url}  ({result.detail})")
    print(f"{len(results)} links checked: {len(results) - len(problems)} fine, "
          f"{sum(r.state == 'moved' for r in problems)} moved, "
          f"{sum(r.state == 'dead' for r in problems)} dead.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
