"""Where the benchmark keeps its files, and its informational targets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# This bot's servers start as serve.py starts them: `rasa` without jax (scripts/rasa_cli.py).
RASA_CLI = [str(BIN / "python"), str(ROOT / "scripts" / "rasa_cli.py")]
BENCH_DIR = ROOT / "build" / "bench"
BASELINE_DIR = BENCH_DIR / "baseline"
LOG_DIR = BENCH_DIR / "logs"
RESULTS_DIR = ROOT / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
NCPU = os.cpu_count() or 1

# The targets for this bot (informational: the benchmark never fails on them).
TARGET_THROUGHPUT_RATIO = 5.0  # x the baseline's messages/s at 32 users
TARGET_P95_32_MS = 500.0
TARGET_FIRST_ANSWER_S = 20.0
TARGET_RSS_MB = 800.0
USERS = 32
# The other processes' share of the machine's CPU above which the run counts as shared.
SHARED_CPU_SHARE = 0.05
START_TIMEOUT_S = 300.0
# py-spy pauses the server for each sample (consistent stacks); 100 Hz costs little.
PROFILE_RATE_HZ = 100
# Part of the answer the hardened channel gives when a turn failed (utter_no_reply).
NO_REPLY_MARK = "I can't show that just now"
ANSWERED = ("ok", "empty")


def say(text: str) -> None:
    print(text, flush=True)
