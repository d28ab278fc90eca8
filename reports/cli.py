"""``python -m reports …`` (and the ``guichet`` subcommands that call it): generate the
monthly report or the point prod on demand, list what was generated, write a note.

    python -m reports monthly [--month 2026-10] [--out DIR]
    python -m reports daily [--day 2026-11-02] [--out DIR]
    python -m reports list [--kind monthly|daily]
    python -m reports note --month 2026-10 --section actions_correctives --text "…"
    python -m reports validate --id 12 --by "Comité de pilotage du 14/11" [--out DIR]

Settings and database: the same as the main job (``GUICHET_*``); migrations are applied
first. Progress: one log line per step on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import date
from pathlib import Path

from indicators.periods import parse_month


def build_parser(prog: str = "python -m reports") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Rapports : rapport mensuel, point prod, exports")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("monthly", help="rapport mensuel (DOCX, PPTX, XLSX, CSV, JSON)")
    m.add_argument("--month", help="YYYY-MM (par défaut : le mois précédent)")
    m.add_argument("--out", type=Path, help="dossier où écrire les fichiers")
    d = sub.add_parser("daily", help="point prod du jour (HTML, texte, JSON)")
    d.add_argument("--day", help="YYYY-MM-DD (par défaut : aujourd'hui)")
    d.add_argument("--out", type=Path, help="dossier où écrire les fichiers")
    ls = sub.add_parser("list", help="rapports générés")
    ls.add_argument("--kind", choices=["monthly", "daily"])
    v = sub.add_parser("validate", help="valider un rapport mensuel : édition PDF (LibreOffice)")
    v.add_argument("--id", type=int, required=True, help="n° du rapport (guichet reports list)")
    v.add_argument("--by", required=True, help="qui valide (nom affiché sur la couverture)")
    v.add_argument("--out", type=Path, help="dossier où écrire les PDF")
    n = sub.add_parser("note", help="texte d'une section du rapport mensuel")
    n.add_argument("--month", required=True)
    n.add_argument("--section", required=True,
                   choices=["faits_marquants", "dysfonctionnements", "actions_correctives", "avancement"])
    n.add_argument("--text", required=True, help="texte (vide : supprime la note)")
    n.add_argument("--author", default="ligne de commande")
    return parser


async def run(args: argparse.Namespace) -> int:
    from guichet.bootstrap import build_container
    from guichet.cli import prepare_database
    from guichet.settings import load_settings
    from reports.services import ReportService

    container = build_container(load_settings())
    try:
        await prepare_database(container)
        svc = ReportService.from_container(container)
        if args.command == "monthly":
            month = parse_month(args.month) if args.month else svc.indicators.default_end()
            done = await svc.generate_monthly(month, trigger="cli", requested_by="ligne de commande", out_dir=args.out)
            for name, data in (done.files.items() if done else []):
                where = f" → {args.out / name}" if args.out else ""
                print(f"{name}: {len(data):,} octets{where}")
            print(f"rapport n° {done.report_id} enregistré" if done else "déjà en cours ailleurs")
        elif args.command == "daily":
            day = date.fromisoformat(args.day) if args.day else None
            done = await svc.generate_daily(day, trigger="cli", requested_by="ligne de commande", out_dir=args.out)
            if done:
                text = done.files[next(k for k in done.files if k.endswith(".txt"))].decode("utf-8")
                print(text)
                print(f"rapport n° {done.report_id} enregistré")
        elif args.command == "list":
            for r in await svc.list(args.kind):
                files = await svc.files_of(r.id)
                print(f"{r.id:>5}  {r.kind:<8} {r.period:<10} {r.status:<8} {r.trigger:<9} "
                      f"{r.started_at:%Y-%m-%d %H:%M}  {len(files)} fichier(s)  {r.requested_by}"
                      + (f"  validé le {r.validated_at:%Y-%m-%d} par {r.validated_by}" if r.validated_at else ""))
        elif args.command == "validate":
            row = await svc.validate(args.id, by=args.by, echo=lambda line: print(line, file=sys.stderr))
            for _id, name, _media, size, _sha in await svc.files_of(row.id):
                if name.endswith(".pdf"):
                    where = ""
                    if args.out:
                        args.out.mkdir(parents=True, exist_ok=True)
                        data = await svc.file_content(row.id, name)
                        (args.out / name).write_bytes(data)
                        where = f" → {args.out / name}"
                    print(f"{name}: {size:,} octets{where}")
            print(f"rapport n° {row.id} validé par {row.validated_by}")
        elif args.command == "note":
            await svc.set_note(args.month, args.section, args.text, args.author)
            print("note enregistrée")
        return 0
    finally:
        await container.close()


def main(argv: list[str] | None = None, prog: str = "python -m reports") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(run(args))
    except ValueError as exc:
        print(f"reports: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the product's errors carry a message for people
        if getattr(exc, "error_id", None) is None:
            raise
        print(f"reports: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
