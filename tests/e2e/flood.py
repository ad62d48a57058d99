"""One client flooding the chat page server, for tests/e2e/test_flood.py: from one source address,
`connections` loops, half asking for new conversations and half sending messages (in the
conversations it got, or with a made-up id when it has none), as fast as they are answered, for
`seconds`. Run in its own process so that its work never slows the test's person. Prints the
answers' statuses as JSON: {"session": {"200": n, "429": m}, "message": {...}, "errors": k}.

    python -m tests.e2e.flood URL LOCAL_ADDRESS SECONDS [CAFILE]
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from collections import Counter

import aiohttp

CONNECTIONS = 16


async def flood(base: str, local: str, seconds: float, cafile: str | None) -> dict[str, object]:
    context = ssl.create_default_context(cafile=cafile) if cafile else True
    connector = aiohttp.TCPConnector(local_addr=(local, 0), limit=CONNECTIONS, ssl=context)
    counts: dict[str, Counter[str]] = {"session": Counter(), "message": Counter()}
    ids: list[str] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def sessions(client: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            try:
                async with client.post(f"{base}/api/session") as answer:
                    counts["session"][str(answer.status)] += 1
                    if answer.status == 200:
                        ids.append((await answer.json())["id"])
                    else:
                        await answer.read()
            except aiohttp.ClientError:
                errors += 1
                await asyncio.sleep(0.01)

    async def messages(client: aiohttp.ClientSession, n: int) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            sid = ids[n % len(ids)] if ids else "made-up"
            n += 1
            try:
                async with client.post(f"{base}/api/message",
                                       json={"id": sid, "message": "hello"}) as answer:
                    counts["message"][str(answer.status)] += 1
                    await answer.read()
            except aiohttp.ClientError:
                errors += 1
                await asyncio.sleep(0.01)

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        half = CONNECTIONS // 2
        await asyncio.gather(*[sessions(client) for _ in range(half)],
                             *[messages(client, n) for n in range(half)])
    return {"session": dict(counts["session"]), "message": dict(counts["message"]),
            "errors": errors}


def main() -> None:
    base, local, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cafile = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(asyncio.run(flood(base.rstrip("/"), local, seconds, cafile))))


if __name__ == "__main__":
    main()
