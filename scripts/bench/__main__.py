"""`make bench` (python -m scripts.bench): trains both bots, measures each setup, profiles
one, and writes results/bench.json and results/bench.md. `python -m scripts.bench client SPEC`
is the load client."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.bench import __doc__ as OVERVIEW
from scripts.bench.load import client_main, ratio
from scripts.bench.report import (
    fmt,
    git_state,
    machine_info,
    render,
    sha256,
    sharing_summary,
    targets,
)
from scripts.bench.settings import BASELINE_DIR, BENCH_DIR, RESULTS_DIR, ROOT, USERS, say
from scripts.bench.setups import Bench, Durations, Measurement, Setup, train_baseline, train_triage
from scripts.services import Postgres, Redis, postgres_bin


def production_endpoints_note(stores: str) -> str:
    if stores == "production":
        return ("Measured on endpoints.production.yml as it was at the time of the run, with a "
                "throwaway PostgreSQL cluster and redis-server started by the benchmark.")
    if (ROOT / "endpoints.production.yml").exists():
        return ("endpoints.production.yml exists but was not used (no PostgreSQL, or "
                "--stores redis): measured with Rasa's Redis tracker store and Redis lock store "
                "(build/bench/endpoints.*.yml) on a redis-server started for the run.")
    return ("endpoints.production.yml was not there when this ran: measured with Rasa's Redis "
            "tracker store and Redis lock store (build/bench/endpoints.*.yml) on a "
            "redis-server started for the run, on a free loopback port.")


def counting_cost(by_name: dict[str, Measurement],
                  pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Server CPU per message with counting against the same setup without it."""
    rows = []
    for counted, plain in pairs:
        if counted in by_name and plain in by_name:
            on = by_name[counted].server_cpu_ms_per_message
            off = by_name[plain].server_cpu_ms_per_message
            times = ratio(on, off)
            rows.append({"setup": counted, "cpu_ms_counting": on, "cpu_ms_not_counting": off,
                         "extra": None if times is None else times - 1})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench",
                                     description=(OVERVIEW or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short phases (a smoke run; figures are rough)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml",
                        help="train this bot with another config (a variant to compare); "
                             "results then go to results/bench-LABEL.*")
    parser.add_argument("--credentials", type=Path, default=ROOT / "credentials.yml",
                        help="serve this bot with another credentials file (another channel)")
    parser.add_argument("--label", default=None, help="name of the run (default: from --config)")
    parser.add_argument("--skip-training", action="store_true",
                        help="reuse the models already in build/bench (no training times)")
    parser.add_argument("--model", type=Path, default=None,
                        help="serve this model of this bot instead of training one")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--stores", choices=("auto", "production", "redis", "none"),
                        default="auto",
                        help="the scale-out setups (one and two servers): endpoints.production.yml "
                             "on a throwaway PostgreSQL and Redis ('production'), Rasa's Redis "
                             "tracker and lock stores ('redis'), or none; 'auto' (default): "
                             "production when endpoints.production.yml and PostgreSQL are there")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--only", default="",
                        help="measure only these setups (comma-separated names, e.g. triage)")
    parser.add_argument("--profile-setup", default="",
                        help="profile this setup (default: this bot, one process, in memory)")
    args = parser.parse_args(argv)

    config = args.config.resolve()
    default_config = config == (ROOT / "config.yml").resolve()
    default_credentials = args.credentials.resolve() == (ROOT / "credentials.yml").resolve()
    label = args.label or ("bench" if default_config and default_credentials else
                           f"bench-{config.stem}" if not default_config else
                           f"bench-{args.credentials.stem}")
    name = "triage" if default_config else f"triage-{config.stem}"
    durations = Durations(3, 10, 5, 15, 12) if args.quick else Durations()
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    say(f"make bench: {label}; results in results/{label}.json and .md")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    info = machine_info()

    training: dict[str, float] = {}
    models: dict[str, Path] = {}
    if not args.no_baseline:
        baseline_model = BASELINE_DIR / "models" / "baseline.tar.gz"
        if args.skip_training and baseline_model.exists():
            models["baseline"] = baseline_model
        else:
            models["baseline"], training["baseline"] = train_baseline()
            say(f"  baseline trained in {training['baseline']:.1f} s")
    if args.model is not None:
        models["triage"] = args.model.resolve()
    else:
        out = BENCH_DIR / ("models" if default_config else "variants")
        model = out / f"{name}.tar.gz"
        if args.skip_training and model.exists():
            models["triage"] = model
        else:
            models["triage"], training["triage"] = train_triage(config, out, name)
            say(f"  this bot trained in {training['triage']:.1f} s")

    setups: list[Setup] = []
    if "baseline" in models:
        setups.append(Setup("baseline", "default `rasa init` bot, one process", "baseline",
                            models["baseline"]))
    setups.append(Setup(name, "this bot, one process, in-memory stores (make run)", "triage",
                        models["triage"]))
    # What counting costs: the same setup, counting nothing (issue 15: at most 5 %).
    counting_pairs = [(name, f"{name}-nocount")]
    setups.append(Setup(counting_pairs[0][1], "this bot, one process, in-memory stores, "
                        "counting off", "triage", models["triage"], counting=False))
    stores = args.stores
    if stores == "auto":
        stores = ("production" if (ROOT / "endpoints.production.yml").exists()
                  and postgres_bin() is not None else "redis")
    scale_names: tuple[str, str] | None = None
    if stores != "none":
        production = stores == "production"
        tag, what = ("prod", "endpoints.production.yml (PostgreSQL tracker, Redis lock)") \
            if production else ("redis", "Redis tracker + lock stores")
        scale_names = (f"{name}-{tag}", f"{name}-{tag}-2s")
        setups.append(Setup(scale_names[0], f"this bot, one Rasa server, {what}", "triage",
                            models["triage"], redis=True, production=production))
        if production:
            counting_pairs.append((scale_names[0], f"{scale_names[0]}-nocount"))
            setups.append(Setup(counting_pairs[-1][1], f"this bot, one Rasa server, {what}, "
                                "counting off", "triage", models["triage"], redis=True,
                                production=True, counting=False))
        # Two servers on their own ports (RASA_SERVERS=2), not SANIC_WORKERS=2: workers share
        # one port, and the kernel can hand every long-lived connection to the same worker
        # (a quick run gave 46 messages/s against 109 the next time).
        setups.append(Setup(scale_names[1], f"this bot, two Rasa servers, {what}", "triage",
                            models["triage"], redis=True, production=production, servers=2))

    profiled = next((x for x in setups if x.name == (args.profile_setup or name)), None)
    if args.only:
        setups = [x for x in setups if x.name in args.only.split(",")]
    redis = Redis() if stores != "none" else None
    bin_dir = postgres_bin()
    postgres = Postgres(bin_dir) if stores == "production" and bin_dir is not None else None
    bench = Bench(durations, redis, postgres, args.credentials.resolve())
    measurements: list[Measurement] = []
    errors: dict[str, str] = {}
    profile: dict[str, Any] | None = None
    try:
        if redis is not None:
            redis.start()
        if postgres is not None:
            postgres.start()
        for setup in setups:
            try:
                measurements.append(bench.measure(setup))
            except (RuntimeError, TimeoutError) as error:  # the others still run
                errors[setup.name] = str(error)
                say(f"[{setup.name}] FAILED: {error}")
        if not args.no_profile and profiled is not None:
            profile = bench.profile(profiled)
    finally:
        bench.stop_actions()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()

    by_name = {x.setup: x for x in measurements}
    baseline = by_name.get("baseline")
    results: dict[str, Any] = {
        "label": label,
        "started": started_at,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": info,
        "git": git_state(),
        "config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
        "credentials": str(args.credentials),
        "environment": {k: v for k, v in os.environ.items()
                        if k.startswith(("SANIC_", "MALLOC_", "TF_", "OMP_", "RASA_"))},
        "models": {k: {"path": str(v), "sha256_16": sha256(v), "mb": round(
            v.stat().st_size / 1e6, 1)} for k, v in models.items()},
        "durations": asdict(durations),
        "users": USERS,
        "training_s": {k: round(v, 1) for k, v in training.items()},
        "measurements": [asdict(x) for x in measurements],
        "sharing": sharing_summary(measurements),
        "targets": [t for x in measurements if x.bot == "triage" for t in targets(x, baseline)],
        "profile": profile,
        "errors": errors,
        "counting": counting_cost(by_name, counting_pairs),
    }
    one, two = (by_name.get(scale_names[0]), by_name.get(scale_names[1])) if scale_names \
        else (None, None)
    if one and two:
        scale = ratio(two.concurrent.throughput, one.concurrent.throughput)
        vs_base = ratio(two.concurrent.throughput,
                        baseline.concurrent.throughput if baseline else None)
        results["scaling"] = {
            "two_servers_over_one": scale,
            "two_servers_over_baseline": vs_base,
            "summary": (
                f"Two Rasa servers on {two.stores}: {two.concurrent.throughput:.1f} msg/s at "
                f"{USERS} users (p95 {two.concurrent.p95_ms:.0f} ms), {fmt(scale, 2)}x one "
                f"server on the same stores ({one.concurrent.throughput:.1f} msg/s)"
                + (f" and {fmt(vs_base, 2)}x the baseline" if vs_base else "")
                + f"; peak RSS {two.peak_rss_mb:.0f} MB over {two.peak_processes} processes, "
                + f"the largest {two.peak_process_rss_mb:.0f} MB. "
                + production_endpoints_note(stores)),
        }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{label}.json").write_text(json.dumps(results, indent=2) + "\n",
                                               encoding="utf-8")
    report = render(results)
    (RESULTS_DIR / f"{label}.md").write_text(report, encoding="utf-8")
    say("\n" + report)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "client":
        client_main(sys.argv[2])
    else:
        main()
