"""``python -m indicators show [--months 13] [--end 2026-10] [--json]`` (and ``guichet
indicators show …``): the indicators of the rolling months, as a table (or the API's JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from indicators.catalogue import INDICATORS, fmt_percent
from indicators.periods import month_label, parse_month


async def _show(args: argparse.Namespace) -> int:
    from guichet.bootstrap import build_container
    from guichet.settings import load_settings
    from indicators.services import STATUS_FR, IndicatorService

    container = build_container(load_settings())
    try:
        svc = IndicatorService.from_container(container)
        dash = await svc.dashboard(parse_month(args.end) if args.end else None, args.months)
        if args.json:
            print(json.dumps(dash.to_json(), ensure_ascii=False, default=str, indent=1))
            return 0
        keys = dash.shown
        print("indicateur  " + " ".join(f"{month_label(k, True):>11}" for k in keys) + "   objectif   résultat")
        for ind in INDICATORS:
            cells = []
            for k in keys:
                p = dash.point(ind.id, k)
                cells.append(f"{fmt_percent(p.value) if p and p.has_value else '–':>11}")
            last = dash.latest(ind.id)
            run = f" ({last.run} mois)" if last and last.run else ""
            print(f"{ind.id:<11} " + " ".join(cells) + f"   {ind.target_label:<10} {STATUS_FR[last.status]}{run}")
        print()
        for k in keys:
            o, pk = dash.operational[k], dash.package.get(k)
            print(f"{k}: {o.tickets} tickets ({', '.join(f'{c} {v}' for c, v in o.by_channel.items())}), "
                  f"{o.calls_received} appels reçus, {o.calls_answered} décrochés"
                  + (f", forfait {pk.consumed}/{pk.package}, {pk.extensions_needed} extension(s)" if pk else ""))
        return 0
    finally:
        await container.close()


def main(argv: list[str] | None = None, prog: str = "python -m indicators") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Indicateurs de niveau de service")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="indicateurs des mois glissants")
    show.add_argument("--months", type=int, default=None, help="nombre de mois (13 par défaut)")
    show.add_argument("--end", help="dernier mois, YYYY-MM (par défaut : le mois précédent)")
    show.add_argument("--json", action="store_true", help="le JSON de l'API")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        return asyncio.run(_show(args))
    except ValueError as exc:
        print(f"indicators: {exc}", file=sys.stderr)
        return 2

