"""CPU and memory of processes, and of the whole machine, from /proc."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from scripts.bench.settings import CLK_TCK, NCPU, PAGE_KB


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants that are alive now."""
    children = _children_map()
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            stack.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    try:
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(statm[1]) * PAGE_KB


def machine_busy_seconds() -> float:
    """CPU time the whole machine has been busy since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = raw.replace(b"\0", b" ").decode(errors="replace").split()
    # Drop interpreter paths: "python .venv/bin/rasa train ..." -> "rasa train ..."
    while len(words) > 1 and (words[0].endswith(("python", "python3", "python3.10"))):
        words = words[1:]
    return " ".join(Path(words[0]).name.split() + words[1:4]) if words else "?"


def all_cpu() -> dict[int, float]:
    result: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            result[int(entry)] = cpu_seconds(int(entry))
    return result


class CpuWindow:
    """CPU used during a phase: by the given process trees, and by everything else."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.start_wall = time.monotonic()
        self.start_busy = machine_busy_seconds()
        self.start_all = all_cpu()

    def finish(self, client_cpu_s: float) -> dict[str, Any]:
        wall = time.monotonic() - self.start_wall
        busy = machine_busy_seconds() - self.start_busy
        end_all = all_cpu()
        ours: dict[str, float] = {}
        counted: set[int] = set()
        for name, root in self.roots.items():
            tree = process_tree(root)
            counted.update(tree)
            ours[name] = sum(end_all.get(p, 0.0) - self.start_all.get(p, 0.0) for p in tree)
        counted.add(os.getpid())
        others: dict[str, float] = {}
        for pid, cpu in end_all.items():
            if pid not in counted:
                used = cpu - self.start_all.get(pid, 0.0)
                if used > 0.05 * wall:
                    others[_cmdline(pid)] = others.get(_cmdline(pid), 0.0) + used
        top = sorted(others.items(), key=lambda item: -item[1])[:4]
        ours_total = sum(ours.values()) + client_cpu_s
        other_total = max(0.0, busy - ours_total)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": {k: round(v, 2) for k, v in ours.items()},
            "client_cpu_s": round(client_cpu_s, 2),
            "machine_busy_share": round(busy / (wall * NCPU), 3),
            "other_cpu_share": round(other_total / (wall * NCPU), 3),
            "other_processes": {k: round(v, 1) for k, v in top},
        }


class MemorySampler(threading.Thread):
    """Peak RSS of a process and its children (summed), and of the largest of them, sampled
    every 0.2 s."""

    def __init__(self, *pids: int) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_kb = 0
        self.peak_processes = 0
        self.peak_single_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            tree = [p for pid in self.pids for p in process_tree(pid)]
            sizes = [rss_kb(p) for p in tree]
            total = sum(sizes)
            self.peak_single_kb = max([self.peak_single_kb, *sizes])
            if total > self.peak_kb:
                self.peak_kb = total
                self.peak_processes = len(tree)
            self._stop_event.wait(0.2)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_kb / 1024
