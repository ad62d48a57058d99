"""The servers of `make run` and `make run-production` under supervisord (PyPI `supervisor`).

A server that dies is started again by supervisord, by itself, while the others go on: the
emergency route (Rasa's static answers, the page's header) never depends on the least important
process. Each program has its own log in the run's folder; supervisord's own log says which
program exited, how (its exit status or signal) and when it was started again, never what
anyone wrote.

Back-off: a program that exits within `startsecs` of being started has failed to start;
supervisord waits 1 s, then 2 s, 3 s... before each new try (up to `startretries` tries), so a
crash loop is never a tight loop. A program that exits after running longer than that is started
again at once. When supervisord gives up on a program (FATAL, after `startretries` failed
starts), scripts/revive.py, an event listener, starts it again every REVIVE_AFTER seconds.

    python scripts/supervise.py status [RUN_DIR]    which programs are up, pids, restarts
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SUPERVISORD = BIN / "supervisord"
CONFIG_NAME = "supervisord.conf"
SOCKET_NAME = "supervisor.sock"
LOG_NAME = "supervisord.log"
# Tries before supervisord gives up on a program that keeps failing to start: with its waits of
# 1, 2, 3... s, the last one comes about an hour and a half after the first.
START_RETRIES = 100
# Seconds a program that supervisord gave up on (FATAL) waits before scripts/revive.py starts it
# again.
REVIVE_AFTER = 300.0


@dataclass(frozen=True)
class Program:
    """One server: its name, command and environment, and how long it must stay up to count
    as started (shorter lives are failed starts, retried with back-off)."""

    name: str
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    startsecs: int = 5
    stopwaitsecs: int = 30
    startretries: int = START_RETRIES


def _quote_env(env: Mapping[str, str]) -> str:
    # supervisord's environment= syntax: KEY="value",... with % doubled (its own expansion).
    items = []
    for key, value in sorted(env.items()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
        items.append(f'{key}="{escaped}"')
    return ",".join(items)


def config(programs: Sequence[Program], run_dir: Path,
           revive_after: float = REVIVE_AFTER) -> str:
    """supervisord.conf for these programs, everything in run_dir (socket, logs, pid file),
    with scripts/revive.py for the programs supervisord gives up on."""
    lines = [
        "[unix_http_server]",
        f"file={run_dir / SOCKET_NAME}",
        "chmod=0700",
        "",
        "[supervisord]",
        "nodaemon=true",
        f"logfile={run_dir / LOG_NAME}",
        "logfile_maxbytes=10MB",
        "logfile_backups=3",
        f"pidfile={run_dir / 'supervisord.pid'}",
        f"directory={ROOT}",
        f"childlogdir={run_dir}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{run_dir / SOCKET_NAME}",
        "",
    ]
    for program in programs:
        lines += [
            f"[program:{program.name}]",
            "command=" + " ".join(shlex.quote(arg).replace("%", "%%") for arg in program.args),
            f"directory={ROOT}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={program.startsecs}",
            f"startretries={program.startretries}",
            "stopsignal=TERM",
            f"stopwaitsecs={program.stopwaitsecs}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={run_dir / (program.name + '.log')}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=3",
        ]
        if program.env:
            lines.append(f"environment={_quote_env(program.env)}")
        lines.append("")
    lines += [
        "[eventlistener:revive]",
        f"command={shlex.quote(str(BIN / 'python'))} "
        f"{shlex.quote(str(ROOT / 'scripts' / 'revive.py'))} --after {revive_after:g}",
        f"directory={ROOT}",
        "events=PROCESS_STATE_FATAL,PROCESS_STATE_RUNNING,TICK_5",
        "autorestart=true",
        f"stderr_logfile={run_dir / 'revive.log'}",
        "stdout_logfile=NONE",
        "",
    ]
    return "\n".join(lines)


class Supervisor:
    """supervisord in the foreground, as a child of this process, in a session of its own (so a
    Ctrl-C reaches it once, through stop(), and it stops its programs in order)."""

    def __init__(self, programs: Sequence[Program], run_dir: Path,
                 revive_after: float = REVIVE_AFTER) -> None:
        self.programs = list(programs)
        self.run_dir = run_dir
        self.revive_after = revive_after
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.run_dir / CONFIG_NAME

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        stop_left_over(self.run_dir)
        (self.run_dir / SOCKET_NAME).unlink(missing_ok=True)
        self.config_path.write_text(config(self.programs, self.run_dir, self.revive_after),
                                    encoding="utf-8")
        self.process = subprocess.Popen(
            [str(SUPERVISORD), "-c", str(self.config_path)],
            cwd=ROOT, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 90) -> None:
        """SIGTERM to supervisord: it stops every program (TERM, then KILL after stopwaitsecs)
        and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def rpc(self) -> Any:
        return rpc(self.run_dir)

    def info(self) -> list[dict[str, Any]]:
        return info(self.run_dir)


def stop_left_over(run_dir: Path, timeout: float = 90) -> None:
    """A supervisord of an earlier run in the same folder (its serve.py was killed, not
    stopped) still holds the ports: stop it, and its servers, before starting again."""
    try:
        pid = int((run_dir / "supervisord.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return
    if "supervisord" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
        return  # the pid is someone else's now
    print(f"Stopping the supervisord left over from an earlier run (pid {pid})...", flush=True)
    os.kill(pid, signal.SIGTERM)
    if not wait_until(lambda: not _alive(pid), timeout):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to collect it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def rpc(run_dir: Path) -> Any:
    """supervisord's XML-RPC interface over its unix socket (what supervisorctl uses)."""
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{run_dir / SOCKET_NAME}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def info(run_dir: Path) -> list[dict[str, Any]]:
    processes: list[dict[str, Any]] = rpc(run_dir).getAllProcessInfo()
    return processes


def pid(run_dir: Path, name: str) -> int:
    """The process id of program `name` (0 when it is not running)."""
    return next(int(p["pid"]) for p in info(run_dir) if p["name"] == name)


def states(run_dir: Path) -> dict[str, str]:
    """Each program's state (RUNNING, STARTING, BACKOFF, FATAL...), or nothing while
    supervisord's socket is not up."""
    try:
        return {str(p["name"]): str(p["statename"]) for p in info(run_dir)}
    except OSError:
        return {}


def exits(run_dir: Path) -> dict[str, list[str]]:
    """Each program's unexpected exits, from supervisord's log: how it ended ("exit status 3",
    "terminated by SIGKILL"), oldest first."""
    found: dict[str, list[str]] = {}
    log = run_dir / LOG_NAME
    if not log.exists():
        return found
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.search(r"exited: (\S+) \((.*); not expected\)", line)
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def wait_until(condition: Any, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def status_lines(run_dir: Path) -> list[str]:
    ended = exits(run_dir)
    now = time.time()
    lines = [f"{'program':<14} {'state':<9} {'pid':>7} {'up':>9} {'restarts':>8}  last exit"]
    for process in info(run_dir):
        name = process["name"]
        alive = process["statename"] in ("RUNNING", "STARTING")
        up = f"{int(now - process['start'])} s" if alive else "-"
        pid = str(process["pid"] or "-")
        last = ended.get(name, ["-"])[-1]
        if not alive:  # BACKOFF, FATAL...: supervisord's own words on why
            last = f"{last}; {process['description']}"
        lines.append(f"{name:<14} {process['statename']:<9} {pid:>7} {up:>9} "
                     f"{len(ended.get(name, [])):>8}  {last}")
    return lines


def default_run_dir() -> Path:
    return ROOT / "build" / "run" / os.environ.get("RASA_PORT", "5005")


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "status":
        print(__doc__)
        return 2
    run_dir = Path(argv[1]) if len(argv) > 1 else default_run_dir()
    try:
        print("\n".join(status_lines(run_dir)))
    except OSError as error:
        print(f"No supervisor answers at {run_dir / SOCKET_NAME} ({error}): is `make run` up?")
        return 1
    print(f"Logs: {run_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
