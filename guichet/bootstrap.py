"""The one place that knows the concrete classes: builds the engine, the session factory
and each package's services from the settings. Handlers and gateways receive the
container and ask it for what they need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from guichet.settings import Settings

if TYPE_CHECKING:
    from acd.services import AcdService
from ticket_core.business_time import BusinessCalendar
from ticket_core.calendar_store import load_calendar
from ticket_core.db import create_engine, session_factory, utcnow
from ticket_core.services import SlaPolicy, TicketContext, TicketService


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = utcnow
    extras: dict[str, object] = field(default_factory=dict)

    def site_is_active(self) -> bool:
        """Should this instance act as *the* contact center now? Always, with one site; with
        the failover module, only the site holding the lease (it registers the probe). Jobs
        that must run on one site only (report schedule, IMAP polling, outbox) ask this."""
        probe = self.extras.get("site_is_active")
        if probe is None:
            return not self.settings.failover  # a site of a pair is passive until its controller says
        return bool(probe())  # type: ignore[operator]

    async def calendar(self, session: AsyncSession) -> BusinessCalendar:
        # Loaded per unit of work: exceptions entered on another instance apply at once.
        return await load_calendar(session, self.settings.opening_hours)

    async def tickets(self, session: AsyncSession) -> TicketService:
        s = self.settings
        ctx = TicketContext(
            calendar=await self.calendar(session), site=s.site, ticket_prefix=s.ticket_prefix,
            sla=SlaPolicy(s.sla_critical_hours, s.sla_normal_hours, s.sla_mail_hours),
            clock=self.clock,
        )
        return TicketService(session, ctx)

    async def start_acd(self, *, callback_settings: object | None = None) -> "AcdService":
        """The ACD of this instance (its decision-maker), with its roster and the operator
        states it had before a restart."""
        from acd.domain import AcdSettings
        from acd.services import AcdService

        s = self.settings
        service = AcdService(
            self.session_factory, site=s.site, clock=self.clock,
            settings=AcdSettings(ring_timeout=s.ring_timeout, wrap_up=s.wrap_up_seconds,
                                 overflow_after=s.overflow_after or None, max_wait=s.max_wait or None,
                                 max_missed_rings=s.max_missed_rings),
        )
        await service.start()
        self.extras["acd"] = service
        from callback.services import CallbackService
        from callback.settings import CallbackSettings
        from guichet.settings import load_section

        cb_settings = callback_settings or load_section(CallbackSettings, "callback")
        callbacks = CallbackService(self.session_factory, cb_settings, site=s.site, clock=self.clock,
                                    calendar=self.calendar)
        service.recorders.append(callbacks.on_acd_event)
        self.extras["callbacks"] = callbacks
        return service

    async def close(self) -> None:
        await self.engine.dispose()


def build_container(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Container:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    return Container(settings=settings, engine=engine, session_factory=session_factory(engine), clock=clock)
