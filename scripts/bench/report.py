"""results/bench.md: the figures, ratios, targets and profile of a run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from scripts.bench.load import ratio
from scripts.bench.settings import (
    NCPU,
    ROOT,
    SHARED_CPU_SHARE,
    TARGET_FIRST_ANSWER_S,
    TARGET_P95_32_MS,
    TARGET_RSS_MB,
    TARGET_THROUGHPUT_RATIO,
    USERS,
)
from scripts.bench.setups import Measurement


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, IndexError, ValueError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": NCPU,
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                check=False)
        return result.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_training_inputs": git("status", "--porcelain", "--", "config.yml",
                                           "domain.yml", "data", "addons").splitlines(),
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def targets(triage: Measurement, baseline: Measurement | None) -> list[dict[str, Any]]:
    base = baseline.concurrent.throughput if baseline else None
    # (target, value, unit, met?)
    checks: list[tuple[str, float | None, str, bool | None]] = []
    value = ratio(triage.concurrent.throughput, base)
    checks.append((f"throughput at {USERS} users >= {TARGET_THROUGHPUT_RATIO:.0f}x the baseline",
                   value, "x", None if value is None else value >= TARGET_THROUGHPUT_RATIO))
    p95 = triage.concurrent.p95_ms
    checks.append((f"p95 at {USERS} users < {TARGET_P95_32_MS:.0f} ms", p95, "ms",
                   None if p95 != p95 else p95 < TARGET_P95_32_MS))
    checks.append((f"first answer within {TARGET_FIRST_ANSWER_S:.0f} s of start",
                   triage.first_answer_s, "s", triage.first_answer_s <= TARGET_FIRST_ANSWER_S))
    if triage.servers > 1:  # each server is a Rasa process
        rss, what = triage.peak_process_rss_mb, "each Rasa process (largest of them)"
    else:
        rss, what = triage.peak_rss_mb, "Rasa process (with children)"
    checks.append((f"{what} < {TARGET_RSS_MB:.0f} MB", rss, "MB", rss < TARGET_RSS_MB))
    return [{"setup": triage.setup, "target": name,
             "value": None if value is None else round(value, 2), "unit": unit, "met": met}
            for name, value, unit, met in checks]


def render(results: dict[str, Any]) -> str:
    """results/bench.md and the printed summary."""
    lines: list[str] = []
    m: dict[str, dict[str, Any]] = {x["setup"]: x for x in results["measurements"]}
    base = m.get("baseline")
    lines.append(f"# Benchmark: {results['label']}\n")
    info = results["machine"]
    lines.append(
        f"Run {results['started']} on {info['cpus']} cores ({info['cpu_model']}), "
        f"{info['memory_gb']} GB, commit {results['git']['commit']}"
        + (" with uncommitted changes to the training inputs"
           if results["git"]["uncommitted_training_inputs"] else "") + ".")
    lines.append(f"Load average at start: {info['load_average_at_start']}. "
                 + results["sharing"]["summary"] + "\n")
    lines.append("## Training (forced, wall clock)\n")
    lines.append("| bot | seconds |\n| --- | ---: |")
    for name, seconds in results["training_s"].items():
        lines.append(f"| {name} | {fmt(seconds)} |")
    if base and "triage" in results["training_s"] and "baseline" in results["training_s"]:
        lines.append(f"\nThis bot / baseline: "
                     f"{fmt(ratio(results['training_s']['triage'], results['training_s']['baseline']), 2)}x")  # noqa: E501
    lines.append("\n## Serving (REST webhook)\n")
    header = ("| setup | servers | stores | first answer (s) | 1 user median (ms) "
              "| 1 user p95 (ms) | 32 users msg/s | 32 users p50 (ms) | 32 users p95 (ms) "
              "| failures | peak RSS (MB) | server CPU ms/msg | bot msgs/answer | others' CPU |")
    lines.append(header)
    lines.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                 "| ---: | ---: | ---: |")
    for x in results["measurements"]:
        s, c = x["sequential"], x["concurrent"]
        failures = f'{sum(c["failures"].values()) + sum(s["failures"].values())}'
        empty = c.get("empty_answers", 0) + s.get("empty_answers", 0)
        failures += f" ({empty} empty answers)" if empty else ""
        lines.append(
            f"| {x['setup']} | {x['servers']} | {x['stores']} "
            f"| {fmt(x['first_answer_s'])} "
            f"| {fmt(s['p50_ms'], 0)} | {fmt(s['p95_ms'], 0)} | {fmt(c['throughput'])} "
            f"| {fmt(c['p50_ms'], 0)} | {fmt(c['p95_ms'], 0)} | {failures} "
            f"| {fmt(x['peak_rss_mb'], 0)} | {fmt(x['server_cpu_ms_per_message'])} "
            f"| {fmt(c['bot_messages_per_answer'], 2)} "
            f"| {x['cpu_concurrent']['other_cpu_share']:.0%} |")
    lines.append(
        "\nServer CPU ms/msg: CPU time of the Rasa servers per answered "
        "message at 32 users; unlike msg/s it hardly depends on what else the machine runs. "
        "Failures: errors, time-outs and the channel's failure answer (utter_no_reply). "
        "Bot msgs/answer: the bot messages in an answer, each an action the policies predicted.")
    if base:
        lines.append("\n## Ratios to the baseline\n")
        lines.append("| setup | msg/s at 32 users | msg per CPU-second | 1 user median "
                     "| p95 at 32 users | first answer | peak RSS |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for x in results["measurements"]:
            if x["bot"] == "baseline":
                continue
            lines.append(
                f"| {x['setup']} "
                f"| {fmt(ratio(x['concurrent']['throughput'], base['concurrent']['throughput']), 2)}x "  # noqa: E501
                f"| {fmt(ratio(base['server_cpu_ms_per_message'], x['server_cpu_ms_per_message']), 2)}x "  # noqa: E501
                f"| {fmt(ratio(x['sequential']['p50_ms'], base['sequential']['p50_ms']), 2)}x "
                f"| {fmt(ratio(x['concurrent']['p95_ms'], base['concurrent']['p95_ms']), 2)}x "
                f"| {fmt(ratio(x['first_answer_s'], base['first_answer_s']), 2)}x "
                f"| {fmt(ratio(x['peak_rss_mb'], base['peak_rss_mb']), 2)}x |")
    if results.get("counting"):
        lines.append("\n## What counting costs (addons/counting.py)\n")
        lines.append("| setup | server CPU ms/msg counting | not counting | extra |\n"
                     "| --- | ---: | ---: | ---: |")
        for row in results["counting"]:
            extra = "n/a" if row["extra"] is None else f"{row['extra']:+.1%}"
            lines.append(f"| {row['setup']} | {fmt(row['cpu_ms_counting'], 2)} "
                         f"| {fmt(row['cpu_ms_not_counting'], 2)} | {extra} |")
    if results.get("scaling"):
        sc = results["scaling"]
        lines.append("\n## Two Rasa servers (scale-out configuration)\n")
        lines.append(sc["summary"])
    for setup_name, error in results.get("errors", {}).items():
        lines.append(f"\n**{setup_name} failed**: {error}")
    lines.append("\n## Targets for this bot (informational)\n")
    lines.append("| setup | target | value | met |\n| --- | --- | ---: | --- |")
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['setup']} | {t['target']} | {fmt(t['value'], 2)} {t['unit']} "
                     f"| {met} |")
    kinds = [x for x in results["measurements"] if x["bot"] == "triage"]
    if kinds:
        first = kinds[0]
        lines.append(f"\n## Median latency by message kind ({first['setup']}, one user)\n")
        lines.append("| kind | messages | median (ms) |\n| --- | ---: | ---: |")
        seq = first["sequential"]
        for kind, p50 in seq["by_kind_p50_ms"].items():
            lines.append(f"| {kind} | {seq['by_kind_count'][kind]} | {fmt(p50, 0)} |")
    profile = results.get("profile")
    if profile and "categories" in profile:
        lines.append(f"\n## Profile ({profile['setup']}, {USERS} users, py-spy at "
                     f"{profile['rate_hz']} Hz for {profile['seconds']:.0f} s)\n")
        lines.append(
            f"{profile['messages']} messages answered while sampled "
            f"({profile['throughput_while_sampled']} msg/s), {profile['samples']} samples; the "
            f"Rasa process used {profile['server_cpu_ms_per_message']} ms of CPU per message. "
            f"A sample counts for the deepest frame that names a component, so library code "
            f"(numpy, TensorFlow, json) counts for the component that called it; ms per "
            f"message = share x the process's CPU per message.\n")
        lines.append("| where | share | CPU ms per message |\n| --- | ---: | ---: |")
        for name, row in profile["categories"].items():
            lines.append(f"| {name} | {row['share']:.1%} "
                         f"| {fmt(row['cpu_ms_per_message'], 2)} |")
        lines.append("\nHottest functions (self time):\n")
        lines.append("| function | share | CPU ms per message |\n| --- | ---: | ---: |")
        for name, row in profile["top_functions"].items():
            lines.append(f"| `{name}` | {row['share']:.1%} "
                         f"| {fmt(row['cpu_ms_per_message'], 2)} |")
    elif profile:
        lines.append(f"\n## Profile\n\nSkipped: {profile.get('skipped')}")
    lines.append("")
    return "\n".join(lines)


def sharing_summary(measurements: list[Measurement]) -> dict[str, Any]:
    worst = 0.0
    others: dict[str, float] = {}
    for x in measurements:
        for window in (x.cpu_sequential, x.cpu_concurrent):
            worst = max(worst, float(window["other_cpu_share"]))
            for command, seconds in window["other_processes"].items():
                others[command] = others.get(command, 0.0) + seconds
    ranked = sorted(others.items(), key=lambda item: -item[1])
    shared = worst > SHARED_CPU_SHARE
    if shared:
        names = ", ".join(f"`{n}`" for n, _ in ranked[:3])
        summary = (f"**The machine was shared with other work during the run**: other "
                   f"processes used up to {worst:.0%} of its CPU in a load phase ({names}), so "
                   f"these figures are lower than on an idle machine.")
    else:
        summary = f"The machine was otherwise idle (other processes <= {worst:.0%} of its CPU)."
    return {"shared": shared, "worst_other_cpu_share": worst, "summary": summary,
            "other_processes_cpu_s": {k: round(v, 1) for k, v in ranked[:6]}}
