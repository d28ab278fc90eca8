"""Times ``guichet demo-data --months 1 --scale 10`` on a fresh SQLite file and prints the
throughput (rows/s). A measurement, not a test: no assertions, no thresholds.

    .venv/bin/python bench/demo_data_scale.py [--scale 10] [--months 1] [--end 2025-10]
                                              [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.generator import _month_range, generate, parse_end  # noqa: E402
from guichet.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--end", default="2025-10")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="", help="default: a new SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="guichet-bench-") as tmp:
        settings = load_settings({"data_dir": tmp, "database_url": args.database_url})
        months = _month_range(parse_end(args.end), args.months)
        started = time.perf_counter()
        summary = asyncio.run(generate(settings, months, scale=args.scale, seed=args.seed, progress=False))
        elapsed = time.perf_counter() - started
    done = [m for m in summary.months if not m.skipped]
    rows = sum(m.rows for m in done)
    gen_seconds = sum(m.seconds for m in done)
    print(f"demo-data --months {args.months} --scale {args.scale:g} on "
          f"{settings.effective_database_url.split(':')[0]}: "
          f"{sum(m.tickets for m in done):,} tickets, {sum(sum(m.calls.values()) for m in done):,} calls, "
          f"{sum(m.events for m in done):,} events, {rows:,} rows in {gen_seconds:.1f} s of generation "
          f"({elapsed:.1f} s with migrations and accounts): {rows / max(gen_seconds, 1e-9):,.0f} rows/s")


if __name__ == "__main__":
    main()
