"""Fencing: only one site's ACD (and Stasis application) is active at a time.

**A lease row, not an advisory lock.** The active site holds the ``acd`` row of
``failover_lease``: ``holder``, ``expires_at`` (database time) and an ``epoch`` that grows
by one at each acquisition (a fencing token: journal facts and switchover records carry
it). The holder renews it every ``ttl/3`` seconds with a compare-and-set ``UPDATE … WHERE
holder = me AND epoch = mine``; another site acquires it only when ``expires_at`` has
passed or the holder handed it over.

Why not ``pg_try_advisory_lock`` on a dedicated connection, as DESIGN.md suggests for one
database? Because of what a switchover is here:

- an advisory lock lives in the memory of one PostgreSQL server and is **not
  replicated**: after the standby is promoted it simply does not exist, and nothing tells
  the old holder it lost it. The lease row is data: every renewal is committed with
  synchronous replication, so the promoted standby knows exactly who held it and until
  when, and waits for that before letting its site in;
- the holder of an advisory lock does not learn that its connection is dead until TCP
  says so (minutes without keepalives), while a lease holder *knows* its deadline: it
  deactivates itself when it could not renew for ``ttl - margin`` seconds (measured on
  its own monotonic clock from the moment it *sent* the last successful renewal, so
  always before the database-time expiry the other site waits for);
- a primary cut off from its standby cannot commit at all (synchronous commit waits for
  the standby), so it cannot renew either: it fences itself, which is what must happen
  when the standby was promoted on the other side of a network partition;
- it works the same on SQLite (one machine) and needs no superuser.

The cost: a takeover after a crash waits for the lease to expire (``lease_ttl``, 15 s by
default) — less than the failure detection itself (``failures_to_switch`` rounds).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from failover.models import FailoverLease
from ticket_core.db import utcnow

log = logging.getLogger("guichet.failover.lease")

LEASE = "acd"


@dataclass(frozen=True)
class LeaseView:
    holder: str | None
    epoch: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None
    requested_holder: str | None
    requested_at: datetime | None
    requested_by: str | None
    request_kind: str | None
    request_reason: str | None
    db_now: datetime

    @property
    def expired(self) -> bool:
        return self.holder is None or self.expires_at is None or self.expires_at <= self.db_now

    def request_live(self, handover_timeout: float) -> bool:
        return (self.requested_holder is not None and self.requested_at is not None
                and (self.db_now - self.requested_at).total_seconds() < handover_timeout)

    def out(self) -> dict[str, object]:
        return {"holder": self.holder, "epoch": self.epoch, "acquired_at": self.acquired_at,
                "renewed_at": self.renewed_at, "expires_at": self.expires_at, "expired": self.expired,
                "requested_holder": self.requested_holder, "requested_at": self.requested_at,
                "requested_by": self.requested_by, "request_kind": self.request_kind,
                "request_reason": self.request_reason}


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock (one clock for every site comparing lease times); the
    application's on SQLite (one machine)."""
    if session.bind.dialect.name == "postgresql":
        value = await session.scalar(text("SELECT clock_timestamp() AT TIME ZONE 'UTC'"))
        return value.replace(tzinfo=UTC)
    return utcnow()


class Lease:
    """The ``acd`` lease as one site sees it. Every call is one short transaction on the
    failover module's own engine (not the application's pool: a renewal stuck behind
    synchronous replication must not starve the API, and the API must not delay it)."""

    def __init__(self, engine: AsyncEngine, *, site: str, ttl: float, margin: float,
                 handover_timeout: float, name: str = LEASE) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.site = site
        self.ttl = ttl
        self.margin = margin
        self.handover_timeout = handover_timeout
        self.name = name
        self.epoch: int | None = None  # set while this site holds it
        self.valid_until: float = 0.0  # time.monotonic() after which this site must stop

    # --- reading -----------------------------------------------------------------------

    async def read(self) -> LeaseView:
        async with self.sessions() as session:
            row = await self._row(session)
            now = await db_now(session)
            return _view(row, now)

    async def _row(self, session: AsyncSession) -> FailoverLease:
        row = await session.get(FailoverLease, self.name)
        if row is None:  # the migration inserts it; a database restored without it gets one
            session.add(FailoverLease(name=self.name, epoch=0))
            await session.commit()
            row = await session.get(FailoverLease, self.name)
        assert row is not None
        return row

    # --- holding -----------------------------------------------------------------------

    @property
    def held(self) -> bool:
        return self.epoch is not None and time.monotonic() < self.valid_until

    async def try_acquire(self) -> tuple[int | None, LeaseView]:
        """Take the lease when it is free, expired, handed over to this site, or this
        site's own (a restart). Returns the new epoch (None when someone else holds it)
        and the lease as it was just before."""
        sent = time.monotonic()
        async with self.sessions() as session:
            row = await self._row(session)
            now = await db_now(session)
            view = _view(row, now)
            mine = view.holder == self.site
            if not (view.expired or mine):
                return None, view
            if view.request_live(self.handover_timeout) and view.requested_holder not in (None, self.site):
                return None, view  # handed over to the other site: not ours to take
            result = await session.execute(
                update(FailoverLease)
                .where(FailoverLease.name == self.name, FailoverLease.epoch == view.epoch)
                .values(holder=self.site, epoch=view.epoch + 1, acquired_at=now, renewed_at=now,
                        expires_at=now + timedelta(seconds=self.ttl),
                        requested_holder=None, requested_at=None, requested_by=None, request_kind=None,
                        request_reason=None)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                await session.rollback()
                return None, view
            await session.commit()
        self.epoch = view.epoch + 1
        self.valid_until = sent + self.ttl - self.margin
        log.info("lease %s acquired by %s, epoch %d (previously %s)", self.name, self.site, self.epoch, view.holder)
        return self.epoch, view

    async def renew(self) -> LeaseView | None:
        """Extend the lease; None when it is no longer this site's (taken, or released).
        Raises on database errors (the caller's deadline decides what happens then)."""
        epoch = self.epoch
        if epoch is None:
            return None
        sent = time.monotonic()
        async with self.sessions() as session:
            now = await db_now(session)
            result = await session.execute(
                update(FailoverLease)
                .where(FailoverLease.name == self.name, FailoverLease.holder == self.site,
                       FailoverLease.epoch == epoch)
                .values(renewed_at=now, expires_at=now + timedelta(seconds=self.ttl))
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                await session.rollback()
                if self.epoch == epoch:  # (not re-acquired meanwhile under a new epoch)
                    self.epoch = None
                return None
            await session.commit()
            row = await session.get(FailoverLease, self.name, populate_existing=True)
            view = _view(row, now)
        if self.epoch == epoch:
            self.valid_until = sent + self.ttl - self.margin
        return view

    async def release(self, *, keep_request: bool = True) -> None:
        """Give the lease up now (the site has deactivated): it expires at once, the
        holder's name stays (who held it last), and the requested site, if any, takes it."""
        epoch, self.epoch, self.valid_until = self.epoch, None, 0.0
        if epoch is None:
            return
        async with self.sessions() as session:
            now = await db_now(session)
            values: dict[str, object] = {"expires_at": now}
            if not keep_request:
                values.update(requested_holder=None, requested_at=None, requested_by=None, request_kind=None,
                              request_reason=None)
            await session.execute(
                update(FailoverLease)
                .where(FailoverLease.name == self.name, FailoverLease.holder == self.site,
                       FailoverLease.epoch == epoch)
                .values(**values).execution_options(synchronize_session=False))
            await session.commit()
        log.info("lease %s released by %s (epoch %d)", self.name, self.site, epoch)

    def forget(self) -> None:
        """This site stopped considering itself the holder (fenced)."""
        self.epoch, self.valid_until = None, 0.0

    # --- handover requests -------------------------------------------------------------

    async def request(self, to: str, *, kind: str, by: str, reason: str,
                      session: AsyncSession | None = None) -> LeaseView:
        """Ask the holder to hand the lease over to ``to`` (it does so at its next renewal;
        when it is dead, ``to`` takes the lease at expiry)."""

        async def run(s: AsyncSession) -> LeaseView:
            row = await self._row(s)
            now = await db_now(s)
            row.requested_holder, row.requested_at, row.requested_by = to, now, by[:120]
            row.request_kind, row.request_reason = kind, reason[:300]
            await s.flush()
            return _view(row, now)

        if session is not None:
            return await run(session)
        async with self.sessions() as s:
            view = await run(s)
            await s.commit()
            return view

    async def clear_request(self, *, reason: str) -> None:
        async with self.sessions() as session:
            row = await self._row(session)
            log.warning("handover request to %s (%s) refused by %s: %s", row.requested_holder, row.request_kind,
                        self.site, reason)
            row.requested_holder = row.requested_at = row.requested_by = None
            row.request_kind = row.request_reason = None
            await session.commit()


def _view(row: FailoverLease, now: datetime) -> LeaseView:
    return LeaseView(row.holder, row.epoch, row.acquired_at, row.renewed_at, row.expires_at, row.requested_holder,
                     row.requested_at, row.requested_by, row.request_kind, row.request_reason, now)


__all__ = ["Lease", "LeaseView", "db_now"]
