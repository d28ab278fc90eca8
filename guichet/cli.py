"""The ``guichet`` command: migrate, create-admin, serve (the main job), demo-data."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import secrets
import signal
import sys

from aiohttp import web
from sqlalchemy import select

from guichet.bootstrap import Container, build_container
from guichet.settings import Settings, SettingsError, load_settings
from ticket_core.catalogue import seed_catalogue
from ticket_core.migrate import upgrade_async

log = logging.getLogger("guichet")

RUNTIME_MODULES = ["mailgw.runtime", "chatgw.runtime", "callback.runtime", "reports.runtime", "console.runtime", "failover.runtime"]


async def prepare_database(container: Container) -> None:
    """Migrations to head, then the catalogue's missing starting entries."""
    await upgrade_async(container.settings.effective_database_url)
    async with container.session_factory() as session:
        added = await seed_catalogue(session)
        await session.commit()
    if added:
        log.info("catalogue: %d starting entries added", added)


async def ensure_admin(container: Container) -> str | None:
    """Create the first admin account when there is none. Its password comes from
    GUICHET_ADMIN_PASSWORD, or is generated and returned so the caller prints it once."""
    from accounts.models import User
    from accounts.services import create_user

    s = container.settings
    async with container.session_factory() as session:
        if await session.scalar(select(User).where(User.role == "admin").limit(1)):
            return None
        password = s.admin_password or secrets.token_urlsafe(12)
        await create_user(session, username=s.admin_username, password=password, role="admin",
                          display_name="Administrateur")
        await session.commit()
    return None if s.admin_password else password


async def serve(settings: Settings) -> None:
    from guichet.web import create_app

    container = build_container(settings)
    await prepare_database(container)
    generated = await ensure_admin(container)
    if generated:
        print(f"First admin account created: user {settings.admin_username!r}, password {generated!r} "
              "(shown once; set GUICHET_ADMIN_PASSWORD to choose it)", flush=True)
    # The contact-center side (ACD + telephony) of this site. The failover package, when
    # enabled, decides when this site is the active one and calls these itself.
    active: dict[str, object] = {}

    async def activate_site() -> None:
        if active:
            return
        try:
            active["acd"] = await container.start_acd()
            if settings.telephony:
                from guichet.telephony_runtime import start_telephony

                active["telephony"] = await start_telephony(container)
        except BaseException:
            await deactivate_site()  # a half-started site must be startable again
            raise
        if settings.telephony:
            print(f"Telephony: Asterisk on sip:{settings.support_number}@{settings.sip_host}:{settings.sip_port}, "
                  f"Stasis app {settings.stasis_app!r} connected over ARI", flush=True)

    async def deactivate_site() -> None:
        telephony = active.pop("telephony", None)
        if telephony is not None:
            await telephony.stop()
        active.clear()
        for key in ("acd", "telephony", "dispatch", "operators_changed", "callbacks"):
            container.extras.pop(key, None)

    container.extras["activate_site"] = activate_site
    container.extras["deactivate_site"] = deactivate_site
    if not settings.failover:
        await activate_site()
    # Background services of the packages that have them (gateways, schedulers…): each
    # ``<package>/runtime.py`` has ``async def start(container) -> stop coroutine function``.
    stoppers = []
    for name in RUNTIME_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, name.rsplit(".", 1)[0]):
                continue
            raise
        stoppers.append(await module.start(container))
    app = create_app(container)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    print(f"Guichet is serving on http://{settings.http_host}:{settings.http_port}/ "
          f"(API: /api/openapi.json, database: {settings.effective_database_url.split('://')[0]})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("stopping…", flush=True)
    await runner.cleanup()
    for stop_service in reversed(stoppers):
        await stop_service()
    await deactivate_site()
    await container.close()


async def _migrate(settings: Settings) -> None:
    container = build_container(settings)
    try:
        await prepare_database(container)
    finally:
        await container.close()


async def _create_user(settings: Settings, args: argparse.Namespace) -> None:
    from accounts.services import create_user

    container = build_container(settings)
    try:
        await prepare_database(container)
        async with container.session_factory() as session:
            user = await create_user(session, username=args.username, password=args.password, role=args.role,
                                     sip_endpoint=args.sip_endpoint, sip_secret=args.sip_secret,
                                     sip_realm=settings.sip_realm)
            await session.commit()
        print(f"user {user.username} ({user.role}) created with id {user.id}")
        if user.sip_endpoint:
            print(f"softphone: user {user.sip_endpoint}, password {user.new_sip_secret!r}, "
                  f"server {settings.sip_host}:{settings.sip_port} (restart the main job to apply)")
    finally:
        await container.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Subcommands owned by their packages (their own argument parsers).
    if argv[:1] == ["reports"]:
        from reports.cli import main as reports_main

        return reports_main(argv[1:], prog="guichet reports")
    if argv[:1] == ["indicators"]:
        from indicators.cli import main as indicators_main

        return indicators_main(argv[1:], prog="guichet indicators")
    parser = argparse.ArgumentParser(prog="guichet", description="Guichet contact center")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the contact center (the main job)")
    sub.add_parser("migrate", help="apply database migrations and seed the catalogue")
    cu = sub.add_parser("create-user", help="create an account")
    cu.add_argument("username")
    cu.add_argument("--role", required=True, choices=["operator", "supervisor", "auditor", "admin"])
    cu.add_argument("--password", required=True)
    cu.add_argument("--sip-endpoint", help="the operator's softphone account (PJSIP endpoint)")
    cu.add_argument("--sip-secret", help="its digest password (generated and printed when omitted)")
    sub.add_parser("reports", help="rapports : mensuel, point prod, liste, notes (guichet reports --help)")
    sub.add_parser("indicators", help="indicateurs des mois glissants (guichet indicators --help)")
    demo = sub.add_parser("demo-data", help="generate deterministic synthetic history")
    demo.add_argument("--months", type=int, default=13)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--end", help="last month generated, YYYY-MM (default: last month)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: 5 lines per session
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "serve":
        asyncio.run(serve(settings))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "create-user":
        asyncio.run(_create_user(settings, args))
    elif args.command == "demo-data":
        from demo.generator import run_demo_data

        return asyncio.run(run_demo_data(settings, months=args.months, scale=args.scale, seed=args.seed,
                                         end=args.end))
    return 0


if __name__ == "__main__":
    sys.exit(main())
