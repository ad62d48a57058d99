"""Live metrics of one Rasa server, for Prometheus (issue 15; docs/operations.md).

prometheus_client's own HTTP server, started in the Rasa process on 127.0.0.1:METRICS_PORT
(scripts/serve.py gives each Rasa server its own port: 9005, 9006, ...), or on the Rasa
server's own port plus METRICS_PORT_OFFSET (deploy/supervisord-rasa.conf: 5005 -> 9005, as
its servers share one environment); no Sanic plugin.
Counters reset when the server restarts: the daily counts are the record, these are for
watching. Labels are the daily counts' metric and key names (addons/counts.py METRICS): a few
hundred fixed values, never a sender id or anything typed.

- triage_counted_total{metric, key}: how many times each counted thing happened (not
  conversations: a quick answer asked twice counts twice);
- triage_answer_seconds: from the message to the end of the bot's answer, as Rasa saves it.
"""

from __future__ import annotations

import logging
import os
import sys

from prometheus_client import Counter, Histogram, start_http_server

from addons import counts

logger = logging.getLogger(__name__)

METRICS_INTERFACE = "127.0.0.1"  # loopback only: scrape it from the same machine or a tunnel

COUNTED = Counter("triage_counted", "Things the bot did (addons/counts.py metric and key)",
                  ["metric", "key"])
ANSWER_SECONDS = Histogram("triage_answer_seconds",
                           "Seconds from a message to the end of the bot's answer",
                           buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 25))
for _metric, _keys in counts.METRICS.items():
    for _key in _keys or (counts.ALL,):
        if _metric != "answer_seconds":  # the histogram holds those
            COUNTED.labels(_metric, _key)  # every series present from the start, at 0

_started: int | None = None


def start_server_from_env() -> int | None:
    """Serves the metrics on METRICS_PORT once per process; returns the port, or None when
    METRICS_PORT is unset or busy (the server then runs without metrics, and says so)."""
    global _started
    if _started is not None:
        return _started
    value = os.environ.get("METRICS_PORT", "")
    offset = os.environ.get("METRICS_PORT_OFFSET", "")
    if offset:  # servers that share one environment: each its own port
        value = str(_rasa_port(sys.argv) + int(offset))
    if not value:
        return None
    try:
        start_http_server(int(value), addr=METRICS_INTERFACE)
    except (OSError, ValueError, OverflowError) as error:  # busy, or not a port
        logger.error("No metrics: port %r cannot be used (%s)", value, type(error).__name__)
        return None
    _started = int(value)
    return _started


def _rasa_port(argv: list[str]) -> int:
    """The port of `rasa run --port N` (Rasa's default 5005)."""
    for i, arg in enumerate(argv[:-1]):
        if arg in ("--port", "-p"):
            return int(argv[i + 1])
    return 5005


def observe(rows: list[counts.EventRow], slots_before: dict[str, str | None],
            resource_category: object, now: float) -> None:
    """Counts one save's new events (a turn, usually). slots_before: the counted slots before
    them (a slot set again to the same value is not counted again); resource_category: the
    slot at the end of the turn, the list a successful action_show_resources showed."""
    slots = dict(slots_before)
    user_at = None
    pending: str | None = None
    for row in rows:
        if pending is not None:
            failed = row.type_name in (counts.ACTION, counts.USER)
            _action_done(pending, failed, resource_category)
            pending = None
        for metric, key in counts.event_facts(row, slots):
            COUNTED.labels(metric, key).inc()
        if row.type_name == counts.USER:
            user_at = row.timestamp
        elif row.type_name == counts.ACTION and row.action_name in counts.CUSTOM_ACTIONS:
            pending = row.action_name
    if pending is not None:
        _action_done(pending, True, resource_category)
    if user_at is not None:
        ANSWER_SECONDS.observe(max(0.0, now - user_at))


def _action_done(action: str, failed: bool, resource_category: object) -> None:
    if failed:
        COUNTED.labels("action_failure", action).inc()
    elif action == "action_show_resources" and resource_category in counts.RESOURCE_CATEGORIES:
        COUNTED.labels("resources", str(resource_category)).inc()
