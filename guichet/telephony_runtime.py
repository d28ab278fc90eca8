"""Brings the telephony up for the main job (and the integration tests): renders the
Asterisk configuration from the settings and the operators in the database, starts
Asterisk (unless someone else runs it), builds the French prompts, and connects the
Stasis application to ARI with the instance's ACD."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from accounts.models import User
from guichet.bootstrap import Container
from guichet.settings import load_section
from telephony import prompts
from telephony.ari import AriClient, AriEventStream
from telephony.asterisk_config import AsteriskSettings, DigestHash, render_config
from telephony.asterisk_process import AsteriskProcess
from telephony.stasis import StasisApp, StasisSettings
from ticket_core.models import Audience

log = logging.getLogger("guichet.telephony")


def ari_password(container: Container) -> str:
    """The ARI secret: from the settings, else generated once into the data folder."""
    s = container.settings
    if s.ari_password:
        return s.ari_password
    path = s.data_dir / "ari_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


async def operator_accounts(container: Container) -> list[tuple[str, DigestHash]]:
    async with container.session_factory() as session:
        users = await session.scalars(select(User).where(
            User.active.is_(True), User.sip_endpoint.is_not(None), User.sip_ha1.is_not(None)))
        return [(u.sip_endpoint, DigestHash(u.sip_realm or "guichet", u.sip_ha1)) for u in users]


class AsteriskProduction(BaseModel):
    """Production-only Asterisk settings (``GUICHET_ASTERISK_*`` or ``[asterisk]``): public
    address and NAT, TLS + SRTP for softphones, the carrier trunk. See
    configs/asterisk/README.md."""

    model_config = ConfigDict(extra="forbid")
    trunk_match: str = "127.0.0.0/8"
    external_address: str | None = None
    local_net: list[str] = []
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_port: int = 5061
    trunk_server: str | None = None
    trunk_username: str | None = None
    trunk_password: str | None = None


async def asterisk_settings(container: Container) -> AsteriskSettings:
    s = container.settings
    prod = load_section(AsteriskProduction, "asterisk")
    return AsteriskSettings(
        **prod.model_dump(),
        run_dir=(s.data_dir / "asterisk").resolve(), ari_password=ari_password(container),
        prefix=s.asterisk_prefix, bind_address=s.sip_host, sip_port=s.sip_port, http_port=s.ari_port,
        ari_user=s.ari_username, app_name=s.stasis_app, support_number=s.support_number,
        operators=await operator_accounts(container), rtp_start=s.rtp_start, rtp_end=s.rtp_end,
    )


@dataclass
class Telephony:
    container: Container
    ari: AriClient
    app: StasisApp
    stream: AriEventStream
    asterisk: AsteriskProcess | None
    owns_asterisk: bool = True  # started here, so stopped here

    async def operators_changed(self) -> None:
        """A softphone account was added: re-render pjsip.conf and reload PJSIP."""
        if self.asterisk is None:
            return
        self.asterisk.settings = await asterisk_settings(self.container)
        render_config(self.asterisk.settings)
        await self.ari.request("PUT", "/asterisk/modules/res_pjsip.so")
        async with self.container.session_factory() as session:
            await self.app.acd.load_roster(session)

    async def stop(self) -> None:
        if self.app.dialer is not None:
            await self.app.dialer.stop()
        await self.app.stop()
        await self.stream.stop()
        await self.ari.close()
        if self.asterisk is not None and self.owns_asterisk:
            await asyncio.to_thread(self.asterisk.stop)


async def start_telephony(container: Container, *, asterisk: AsteriskProcess | None = None,
                          sounds_dir: Path | None = None) -> Telephony:
    """Start (or, with ``asterisk``, use an already running) Asterisk and connect the app."""
    s = container.settings
    owns = asterisk is None
    if asterisk is None and s.asterisk_manage:
        asterisk = AsteriskProcess(await asterisk_settings(container))
        if not asterisk.binary.exists():
            raise RuntimeError(f"{asterisk.binary} is missing: run scripts/build-asterisk")
        await asyncio.to_thread(asterisk.start)
    sounds = await asyncio.to_thread(prompts.build, (sounds_dir or s.data_dir / "sounds" / "fr").resolve())
    if asterisk is not None:
        ari_url, user, password = asterisk.settings.ari_url, asterisk.settings.ari_user, asterisk.settings.ari_password
    else:
        ari_url, user, password = f"http://{s.ari_host}:{s.ari_port}/ari", s.ari_username, ari_password(container)
    acd = container.extras.get("acd") or await container.start_acd()
    async with container.session_factory() as session:
        digits = {a.ivr_digit: a.code for a in await session.scalars(select(Audience).where(
            Audience.active.is_(True), Audience.ivr_digit.is_not(None)))}
    ari = AriClient(ari_url, user, password, app=asterisk.settings.app_name if asterisk else s.stasis_app)
    app = StasisApp(
        ari, acd,
        StasisSettings(app=ari.app, sounds_dir=Path(sounds), ivr_timeout=s.ivr_timeout,
                                 default_audience=s.default_audience, announce_every=s.announce_every),
        session_factory=container.session_factory, site=s.site, clock=container.clock,
        calendar=container.calendar, tickets=container.tickets, ivr_digits=digits,
    )
    callbacks = container.extras.get("callbacks")
    dialer = None
    if callbacks is not None and callbacks.settings.enabled:
        from telephony.callbacks import CallbackDialer

        dialer = CallbackDialer(app, callbacks, callbacks.settings, s.support_number)
        app.dialer = dialer
        app.virtual_hold_after = callbacks.settings.virtual_hold_after
    stream = ari.events(app.on_event, on_connected=app.on_connected)
    await stream.start()
    app.start()
    if dialer is not None:
        dialer.start()
    telephony = Telephony(container, ari, app, stream, asterisk, owns_asterisk=owns)
    container.extras["dispatch"] = app.dispatch
    container.extras["operators_changed"] = telephony.operators_changed
    container.extras["telephony"] = telephony
    return telephony
