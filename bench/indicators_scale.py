"""P5: every indicator of SPEC §6 for 13 months (and the 12 months before, for the same
month a year before: 25 months of data) on a database filled by
``guichet demo-data --months 13 --scale 100`` (about 1.5 million calls, 10+ million journal
facts), beside plain SQL scans over the same rows measured in the same run. A measurement,
not a test: no assertions, no thresholds. Works on SQLite and PostgreSQL.

    .venv/bin/python bench/indicators_scale.py --database-url URL [--end 2026-10] [--repeat 2]
                                               [--json bench/results/indicators_scale_sqlite.json]

The database is read only. Prepare one with, e.g.:

    GUICHET_DATA_DIR=/tmp/s100 GUICHET_DATABASE_URL=sqlite+aiosqlite:////tmp/s100/g.sqlite3 \\
        .venv/bin/guichet demo-data --months 13 --scale 100 --end 2026-10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from guichet.bootstrap import build_container  # noqa: E402
from guichet.settings import load_settings  # noqa: E402
from indicators.periods import parse_month  # noqa: E402
from indicators.services import IndicatorService  # noqa: E402
from indicators.settings import IndicatorSettings  # noqa: E402

CONTACT_KINDS = ("'call_received', 'call_received_outside_hours', 'call_presented', 'call_answered', "
                 "'call_abandoned', 'call_lost', 'call_ended', 'chat_started', 'chat_answered', 'chat_ended', "
                 "'mail_received'")


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return ""


async def run(url: str, end: tuple[int, int], repeat: int) -> dict:
    result: dict = {"benchmark": "P5 indicators_scale", "database": url.split("://")[0],
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "loadavg_start": _loadavg()},
                    "runs": []}
    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        container = build_container(load_settings({"database_url": url, "data_dir": tmp}))
        try:
            svc = IndicatorService.from_container(container, settings=IndicatorSettings(cache_seconds=0))
            periods = svc.month_periods(end, 13)
            pg = url.startswith("postgresql")
            start, stop = periods.start.replace(tzinfo=None), periods.end.replace(tzinfo=None)
            if not pg:  # SQLite stores timestamps as text in this format
                start, stop = start.isoformat(" ", "microseconds"), stop.isoformat(" ", "microseconds")
            data_len = "length(data::text)" if pg else "length(data)"
            wait = "(data->>'wait_seconds')::float" if pg else "json_extract(data, '$.wait_seconds')"
            baselines = {
                "events: count, sum(length(data)), all rows": f"SELECT count(*), sum({data_len}) FROM events",
                "events: count, sum(wait) over the contact facts of the 25 months":
                    f"SELECT count(*), sum({wait}) FROM events WHERE kind IN ({CONTACT_KINDS}) "
                    "AND occurred_at >= :a AND occurred_at < :b",
                "tickets: count, sum(contacts), all rows": "SELECT count(*), sum(contacts) FROM tickets",
                "calls: count, sum(wait_seconds), all rows": "SELECT count(*), sum(wait_seconds) FROM calls",
            }
            print(f"database: {url.split('://')[0]}  period: {periods.keys[0]} … {periods.keys[-1]} "
                  f"(13 months shown + 12 before)")
            async with container.engine.connect() as conn:
                counts = {t: await conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("events", "calls", "tickets")}
            print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
            result["rows"] = counts
            result["periods"] = [periods.keys[0], periods.keys[-1]]
            for attempt in range(1, repeat + 1):
                print(f"\nrun {attempt}")
                entry: dict = {"baselines": {}, "timings": {}}
                async with container.engine.connect() as conn:
                    for label, sql in baselines.items():
                        t0 = time.perf_counter()
                        row = (await conn.execute(text(sql), {"a": start, "b": stop})).one()
                        seconds = time.perf_counter() - t0
                        entry["baselines"][label] = {"seconds": round(seconds, 3), "rows": row[0]}
                        print(f"  baseline  {seconds:8.2f} s  {label}  ({row[0]:,} rows)")
                t0 = time.perf_counter()
                dash = await svc.dashboard(end, 13, keep_raw=True, use_cache=False)
                total = time.perf_counter() - t0
                entry["all_indicators_seconds"] = round(total, 3)
                entry["timings"] = {k: round(v, 3) for k, v in dash.raw.timings.items()}
                result["runs"].append(entry)
                print(f"  all indicators, 25 months: {total:8.2f} s")
                for name, seconds in dash.raw.timings.items():
                    print(f"      {name:<18} {seconds:8.2f} s")
            key = dash.end
            print(f"\nfigures of {key}: " + ", ".join(
                f"{i} {dash.point(i, key).value:.2%}" for i in ("T2-IQ01", "T2-IQ02", "T2-IQ03", "T2-IQ04", "T2-IQ05",
                                                            "T2-IQ06", "T2-IQ07", "T2-IQ08", "T2-IQ09", "T2-IQ10")))
            op = dash.operational[key]
            print(f"volumes of {key}: {op.tickets:,} tickets, {op.calls_received:,} calls received, "
                  f"{op.calls_answered:,} answered; lost calls of the 25 months: {len(dash.raw.lost):,}")
            result["figures"] = {i: round(dash.point(i, key).value, 6) for i in dash.points
                                 if dash.point(i, key) and dash.point(i, key).has_value}
            result["machine"]["loadavg_end"] = _loadavg()
            return result
        finally:
            await container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--end", default="2026-10", help="last month shown, YYYY-MM")
    parser.add_argument("--repeat", type=int, default=2, help="runs (the first one reads cold pages)")
    parser.add_argument("--json", type=Path, help="also write the figures there")
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, parse_month(args.end), args.repeat))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
