"""A supervisord event listener that starts again, after a pause, a program supervisord gave
up on (FATAL: it failed to start `startretries` times in a row, with growing waits).

supervisord alone never tries a FATAL program again: a Rasa server whose database was down for
the hour and a half of its retries would stay down for good once the database is back, and
with it the emergency route. This listener keeps the back-off (one new try every `--after`
seconds, 300 by default, on supervisord's TICK_5 clock) and never gives up. Its log line names
the program and how long it was FATAL, nothing else.

    [eventlistener:revive]
    command=python scripts/revive.py --after 300
    events=PROCESS_STATE_FATAL,PROCESS_STATE_RUNNING,TICK_5

It uses supervisor's own listener protocol and XML-RPC interface (supervisor.childutils).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

from supervisor import childutils


class Reviver:
    """Which programs are FATAL since when, and which are due for a new try."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.fatal_since: dict[str, float] = {}

    def on_event(self, name: str, payload: dict[str, str], now: float) -> list[str]:
        """The programs to start now, given one event."""
        if name == "PROCESS_STATE_FATAL":
            self.fatal_since[_program(payload)] = now
        elif name == "PROCESS_STATE_RUNNING":
            self.fatal_since.pop(_program(payload), None)
        elif name.startswith("TICK_"):
            due = [p for p, since in self.fatal_since.items() if now - since >= self.after]
            for program in due:
                # If this try fails too, the next FATAL event sets a new time.
                self.fatal_since[program] = now
            return due
        return []


def _program(payload: dict[str, str]) -> str:
    """group:name as supervisorctl and the XML-RPC interface name a process."""
    return f"{payload['groupname']}:{payload['processname']}"


def serve(after: float, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
          stderr: TextIO = sys.stderr) -> None:
    reviver = Reviver(after)
    rpc: Any = childutils.getRPCInterface(os.environ)
    while True:
        headers, body = childutils.listener.wait(stdin, stdout)
        payload = (childutils.get_headers(body.split("\n", 1)[0])
                   if headers["eventname"].startswith("PROCESS_STATE") else {})
        now = time.monotonic()
        for program in reviver.on_event(headers["eventname"], payload, now):
            try:
                rpc.supervisor.startProcess(program, False)
                stderr.write(f"revive: started {program} again after "
                             f"{reviver.after:.0f} s in FATAL\n")
            except Exception as error:  # noqa: BLE001 - a listener that dies revives nothing
                stderr.write(f"revive: could not start {program}: {type(error).__name__}\n")
            stderr.flush()
        childutils.listener.ok(stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--after", type=float, default=300.0,
                        help="seconds a program stays FATAL before it is started again")
    serve(parser.parse_args(argv).after)


if __name__ == "__main__":
    main()
