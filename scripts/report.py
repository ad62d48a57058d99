"""`make report`: the daily counts by week or by month, with small-number suppression.

Writes results/report/index.html (charts over time and their tables) and
results/report/counts.csv (`period,metric,key,n`). Before anything is written, every count goes
through suppress(): 7 or fewer is withheld, the rest rounded to the nearest 5; a metric's `all`
(its total) is withheld too when any of its keys is, since it would give that key away.

Where the counts come from:
- `make run`'s SQLite file (COUNTS_DB, default build/run/5005/counts.sqlite), or
- production's PostgreSQL, when DB_HOST is set: the same DB_* variables as the Rasa servers
  (DB_HOST, DB_USER, DB_PASSWORD; DB_PORT 5432, DB_NAME triage).
It first rolls the stored events up into daily_counts (as the servers do by themselves);
--no-rollup only reads daily_counts (for a read-only database role); --rollup-only rolls up
and writes no report (cron, while no server runs).

    .venv/bin/python scripts/report.py [--period week|month] [--out results/report]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import os
import sys
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `addons` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from addons import counts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COUNTS_DB = ROOT / "build" / "run" / "5005" / "counts.sqlite"
THRESHOLD = 7  # counts of 7 or fewer are withheld
ROUND_TO = 5
WITHHELD = "withheld"

TITLES = {
    "conversations": ("Conversations", "Conversations started (a quiet half hour starts a new "
                      "one)."),
    "danger_card": ("The 999 card", "Conversations in which the bot showed how to call 999 "
                    "now: danger said in the triage or anywhere, or not sure about danger."),
    "route": ("Who it was about", "Conversations by the answer to 'who is this about?', and "
              "those not sure whether anyone is in danger."),
    "quick_answer": ("Quick answers", "Conversations that got each quick answer."),
    "resources": ("Resource lists", "Conversations shown each list of resources."),
    "nation": ("UK nation", "Conversations in which the user said where they are."),
    "not_understood": ("Not understood", "Conversations with a message the bot did not "
                       "understand, answered by asking instead, by its fallback, or as off "
                       "topic."),
    "language": ("Other languages", "Conversations in another language, by language; "
                 "'unsure': the bot could not tell which and offered the list."),
    "action_failure": ("Action failures", "Conversations in which a custom action failed "
                       "(the action server down or erring); the user got the fallback with "
                       "999 and the helpline."),
    "answer_seconds": ("Answer time", "Answers (not conversations) by seconds from the "
                       "message to the end of the bot's answer."),
}
KEY_NAMES = {
    "all": "All", "shown": "Shown", "self": "Happening to me", "someone_else":
    "Worried about someone", "professional": "For work", "child": "About a child",
    "young_person": "A young person, about themselves", "not_sure": "Not sure about danger",
    "nlu_fallback": "Not understood", "asked_instead": "Asked instead",
    "core_fallback": "Fallback", "out_of_scope": "Off topic", "unsure": "Could not tell",
    "under_1": "Under 1 s", "1_to_3": "1 to 3 s", "3_to_10": "3 to 10 s",
    "10_or_more": "10 s or more", "northern_ireland": "Northern Ireland",
    "nrm": "What is the NRM", "signs": "Signs of modern slavery",
    "talk_to_person": "Talk to a person", "real_person": "Are you a real person?",
    "duty_to_notify": "Duty to Notify",
}


def _language_names() -> dict[str, str]:
    """Each translation's language by its English name (content/translations/)."""
    from i18n.translations import languages

    return {code: f"{language.english_name} ({code})" for code, language in languages().items()}


def suppress(n: int) -> int | None:
    """None (withheld) for 7 or fewer, else rounded to the nearest 5."""
    if n <= THRESHOLD:
        return None
    return ROUND_TO * ((n + ROUND_TO // 2) // ROUND_TO)


def period_of(day: dt.date, period: str) -> str:
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def periods_between(first: dt.date, last: dt.date, period: str) -> list[str]:
    labels: list[str] = []
    day = first
    while day <= last:
        label = period_of(day, period)
        if label not in labels:
            labels.append(label)
        day += dt.timedelta(days=1)
    return labels


def metric_keys(metric: str) -> tuple[str, ...]:
    """The keys shown for a metric: its own, then `all` when it has more than one."""
    keys = counts.METRICS[metric]
    if not keys:
        return (counts.ALL,)
    return (*keys, counts.ALL) if len(keys) > 1 else keys


Table = list[tuple[str, str, str, int | None]]


def published(daily: list[tuple[dt.date, str, str, int]], period: str) -> Table:
    """(period, metric, key, n or None when withheld) for every period from the first day to
    the last, every metric and every key (a count of 0 is withheld like any other below 8)."""
    if not daily:
        return []
    raw: dict[tuple[str, str, str], int] = defaultdict(int)
    for day, metric, key, n in daily:
        raw[(period_of(day, period), metric, key)] += n
    labels = periods_between(daily[0][0], daily[-1][0], period)
    table: Table = []
    for label in labels:
        for metric in counts.METRICS:
            keys = metric_keys(metric)
            values = {key: suppress(raw[(label, metric, key)]) for key in keys}
            if len(keys) > 1 and any(values[k] is None for k in keys if k != counts.ALL):
                values[counts.ALL] = None  # the total would give a withheld count away
            table += [(label, metric, key, values[key]) for key in keys]
    return table


def write_csv(table: Table, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["period", "metric", "key", "n"])
        for label, metric, key, n in table:
            writer.writerow([label, metric, key, WITHHELD if n is None else n])


# --- The page --------------------------------------------------------------------------------

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
  color:#1b1b1b;background:#fff;line-height:1.5}
header,main,footer{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.75rem;margin:.5rem 0}
h2{font-size:1.35rem;margin:2rem 0 .25rem;border-top:2px solid #1d70b8;padding-top:1rem}
h3{font-size:1rem;margin:0 0 .25rem}
.notice{border-left:6px solid #1d70b8;background:#f3f2f1;padding:.75rem 1rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem;
  margin:1rem 0}
figure{margin:0;border:1px solid #b1b4b6;padding:.5rem}
svg{width:100%;height:auto;display:block}
.table-wrap{overflow-x:auto;margin:1rem 0}
.table-wrap:focus{outline:3px solid #fd0}
table{border-collapse:collapse;font-size:.95rem}
th,td{border:1px solid #b1b4b6;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th[scope=row]{text-align:left}
caption{text-align:left;font-weight:bold;padding:.25rem 0}
"""
CHART_W, CHART_H, BAR_AREA_H = 300, 150, 100


def _label(key: str, names: dict[str, str] | None = None) -> str:
    return (names or {}).get(key) or KEY_NAMES.get(key) or key.replace("_", " ").capitalize()


def _chart(title: str, labels: list[str], values: list[int | None]) -> str:
    """A bar per period; a withheld period is a dashed outline marked ≤7."""
    top = max([v for v in values if v is not None] + [THRESHOLD + 1])
    n = max(len(labels), 1)
    slot = (CHART_W - 20) / n
    bar = min(40.0, max(2.0, slot * 0.7))
    parts = [f'<line x1="10" y1="{BAR_AREA_H + 20}" x2="{CHART_W - 10}" '
             f'y2="{BAR_AREA_H + 20}" stroke="#505a5f"/>']
    show_values = n <= 8  # more would overlap: the table has them
    for i, value in enumerate(values):
        x = 10 + i * slot + (slot - bar) / 2
        if value is None:  # a low marker of one height: a withheld count has no size to show
            h = 10.0
            parts.append(f'<rect x="{x:.1f}" y="{BAR_AREA_H + 20 - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="none" stroke="#505a5f" '
                         f'stroke-dasharray="3 2"/>')
            text, y = "≤7", BAR_AREA_H + 20 - h - 4
        else:
            h = BAR_AREA_H * value / top
            parts.append(f'<rect x="{x:.1f}" y="{BAR_AREA_H + 20 - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="#1d70b8"/>')
            text, y = str(value), BAR_AREA_H + 20 - h - 4
        if show_values:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y:.1f}" font-size="14" '
                         f'text-anchor="middle" fill="#1b1b1b">{text}</text>')
    if labels:
        parts.append(f'<text x="10" y="{CHART_H - 2}" font-size="14" fill="#1b1b1b">'
                     f'{html.escape(labels[0])}</text>')
        if len(labels) > 1:
            parts.append(f'<text x="{CHART_W - 10}" y="{CHART_H - 2}" font-size="14" '
                         f'text-anchor="end" fill="#1b1b1b">{html.escape(labels[-1])}</text>')
    said = "; ".join(f"{label}: {'withheld (7 or fewer)' if v is None else v}"
                     for label, v in zip(labels, values, strict=True))
    return (f'<figure><figcaption><h3>{html.escape(title)}</h3></figcaption>'
            f'<svg viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
            f'aria-label="{html.escape(title)} by period: {html.escape(said)}">'
            + "".join(parts) + "</svg></figure>")


def _table(title: str, labels: list[str], keys: tuple[str, ...],
           values: dict[tuple[str, str], int | None], names: dict[str, str]) -> str:
    head = "".join(f'<th scope="col">{html.escape(_label(k, names))}</th>' for k in keys)
    rows = []
    for label in labels:
        cells = "".join(
            f"<td>{'≤7' if values[(label, k)] is None else values[(label, k)]}</td>"
            for k in keys)
        rows.append(f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>')
    return (f'<div class="table-wrap" tabindex="0" role="region" '
            f'aria-label="{html.escape(title)}: table">'
            f'<table><caption>{html.escape(title)}: the figures</caption>'
            f'<thead><tr><th scope="col">Period</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def render_html(table: Table, period: str, source: str, generated: dt.datetime) -> str:
    labels = list(dict.fromkeys(row[0] for row in table))
    values = {(label, metric, key): n for label, metric, key, n in table}
    sections = []
    languages = _language_names()
    for metric in counts.METRICS:
        title, meaning = TITLES[metric]
        keys = metric_keys(metric)
        names = languages if metric == "language" else {}
        charts = "".join(
            _chart(_label(key, names) if len(keys) > 1 else title, labels,
                   [values[(label, metric, key)] for label in labels]) for key in keys)
        by_key = {(label, key): values[(label, metric, key)] for label in labels for key in keys}
        sections.append(
            f'<section aria-labelledby="m-{metric}"><h2 id="m-{metric}">{html.escape(title)}'
            f'</h2><p>{html.escape(meaning)}</p><div class="charts">{charts}</div>'
            f'{_table(title, labels, keys, by_key, names)}</section>')
    body = "".join(sections) if labels else "<p>No conversations have been counted yet.</p>"
    span = "week" if period == "week" else "month"
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Triage bot: counts by {span}</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>Triage bot: what it did, by {span}</h1>
<p>From {html.escape(source)}, made {generated:%Y-%m-%d %H:%M} UTC. Days are UTC days; a
conversation counts in the {span} it started.</p></header>
<main>
<div class="notice"><p><strong>Small numbers are withheld.</strong> Counts of 7 or fewer are
not shown (marked ≤7, and "withheld" in counts.csv); every other count is rounded to the
nearest 5. A total ("All") is withheld too when any count in it is, so it cannot give that count
away. Nothing here is what anyone wrote: only what the bot did.</p></div>
{body}
</main>
<footer><p>The figures are also in <a href="counts.csv">counts.csv</a> (period, metric, key,
n). What each count means: docs/operations.md.</p></footer>
</body>
</html>
"""


# --- Where the counts are ---------------------------------------------------------------------

def production_engine() -> sa.engine.Engine:
    """PostgreSQL from the servers' DB_* variables (and their defaults)."""
    missing = [name for name in ("DB_HOST", "DB_USER", "DB_PASSWORD") if name not in os.environ]
    if missing:
        raise SystemExit(f"Production counts need {', '.join(missing)} (docs/operations.md).")
    url = sa.engine.URL.create(
        "postgresql", username=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
        host=os.environ["DB_HOST"], port=int(os.environ.get("DB_PORT") or 5432),
        database=os.environ.get("DB_NAME") or "triage")
    return sa.create_engine(url, hide_parameters=True)


def write_report(engine: sa.engine.Engine, out: Path, period: str, source: str,
                 rollup: bool = True) -> Table:
    if rollup:
        counts.roll_up(engine)
    table = published(counts.read_daily_counts(engine), period)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "counts.csv")
    page = render_html(table, period, source, dt.datetime.now(dt.timezone.utc))
    (out / "index.html").write_text(page, encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", choices=("week", "month"),
                        default=os.environ.get("PERIOD") or "month")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "report")
    parser.add_argument("--counts-db", type=Path,
                        default=Path(os.environ.get("COUNTS_DB") or DEFAULT_COUNTS_DB),
                        help="make run's counts file (when DB_HOST is not set)")
    parser.add_argument("--no-rollup", action="store_true",
                        help="only read daily_counts (a read-only role)")
    parser.add_argument("--rollup-only", action="store_true",
                        help="roll up into daily_counts, write no report")
    args = parser.parse_args(argv)
    if os.environ.get("DB_HOST"):
        engine, source = production_engine(), "the production database"
        try:
            engine.connect().close()
        except sa.exc.OperationalError as error:
            print(f"The database cannot be reached: {type(error).__name__}", file=sys.stderr)
            return 1
    else:
        if not args.counts_db.exists():
            print(f"No counts at {args.counts_db}: start the bot with `make run` first, or "
                  "set DB_HOST for production's.", file=sys.stderr)
            return 1
        engine, source = counts.sqlite_engine(str(args.counts_db)), "make run's counts"
    try:
        if args.rollup_only:
            since = counts.roll_up(engine)
            print("Another server is rolling up just now." if since is None else
                  f"Rolled up {source} into daily_counts from {since} on.")
            return 0
        table = write_report(engine, args.out, args.period, source,
                             rollup=not args.no_rollup)
    except sa.exc.ProgrammingError as error:  # the type only: its text can quote the SQL
        print(f"The database refused ({type(error.orig).__name__}): a read-only role can "
              "only read the counts, with --no-rollup.", file=sys.stderr)
        return 1
    periods = len({row[0] for row in table})
    print(f"Wrote {args.out / 'index.html'} and {args.out / 'counts.csv'}: {periods} "
          f"{args.period}(s), counts of 7 or fewer withheld, the rest rounded to 5.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
