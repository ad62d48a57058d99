"""Redact now the stored user text of every conversation idle for longer than the retention.

The Rasa servers already do this every minute (addons/tracker_store.py); run this from cron
as well, so text does not outlive the retention while no server runs, or by hand:

    .venv/bin/python scripts/redact.py                  # the listed idle conversations
    .venv/bin/python scripts/redact.py --scan           # also any stored without the listing
    .venv/bin/python scripts/redact.py --retention-minutes 0 --scan   # all text, now

It reads the tracker store settings from the endpoints file (endpoints.production.yml, with the
same DB_* and TRACKER_RETENTION_MINUTES variables as the servers, and the same defaults) and
the slots from domain.yml. It prints how many conversations it redacted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts` and `addons` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.serve import PRODUCTION_DEFAULTS, ROOT  # noqa: E402

STORE_TYPE = "addons.tracker_store.RedactingSQLTrackerStore"
# The same store with counting (addons/counting.py), as endpoints.production.yml names it.
STORE_TYPES = (STORE_TYPE, "addons.counting.CountingSQLTrackerStore")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=Path, default=ROOT / "endpoints.production.yml")
    parser.add_argument("--domain", type=Path, default=ROOT / "domain.yml")
    parser.add_argument("--retention-minutes", type=float,
                        help="instead of the endpoints file's retention_minutes")
    parser.add_argument("--scan", action="store_true",
                        help="also find idle conversations in the whole events table (slow)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    for name, value in PRODUCTION_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import read_endpoint_config
    from sqlalchemy.exc import OperationalError

    from addons.tracker_store import RedactingSQLTrackerStore

    config = read_endpoint_config(str(args.endpoints), "tracker_store")
    if config is None or config.type not in STORE_TYPES:
        print(f"{args.endpoints} has no tracker_store of type {STORE_TYPE}.", file=sys.stderr)
        return 2
    kwargs = dict(config.kwargs)
    if args.retention_minutes is not None:
        kwargs["retention_minutes"] = args.retention_minutes
    try:
        # Rasa's SQLTrackerStore waits for ever for a database that does not answer.
        check = RedactingSQLTrackerStore.get_db_url(
            kwargs.get("dialect", "sqlite"), config.url, kwargs.get("port"),
            kwargs.get("db", "rasa.db"), kwargs.get("username"), kwargs.get("password"),
        )
        import sqlalchemy

        sqlalchemy.create_engine(check, hide_parameters=True).connect().close()
    except OperationalError as error:
        print(f"The database cannot be reached: {type(error).__name__}", file=sys.stderr)
        return 1
    domain = Domain.load(str(args.domain)) if args.domain.exists() else None
    store = RedactingSQLTrackerStore(domain=domain, host=config.url, **kwargs)
    listed = store.list_idle_conversations() if args.scan else 0
    total = 0
    while True:
        done = store.redact_idle()
        total += done
        if done == 0:
            break
    scanned = f" ({listed} idle found by --scan)" if args.scan else ""
    print(f"Redacted the stored user text of {total} conversation(s){scanned}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
