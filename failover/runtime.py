"""The failover module in the main job (``guichet serve`` calls :func:`start`): when
``GUICHET_FAILOVER=1``, a :class:`SiteController` per site

- probes this site and the other one every ``probe_interval`` seconds (health.py),
  publishes its report (``failover_sites``, ``GET /api/v1/failover/health``) and journals
  ``probe_result`` facts during opening hours (T1-IQ01);
- decides with rules.py and acts: acquire the lease and activate the site (the ACD and
  the Stasis application, through ``container.extras["activate_site"]``), promote the
  local PostgreSQL standby, ask the active site to hand over, hand over, refuse;
- renews the lease while active and deactivates the site as soon as it could not renew in
  time (fencing.py): only one site's ACD decides at any moment;
- on taking over from the other site: closes its calls in progress as lost with callbacks,
  logs its operators in here, journals ``site_switched_over`` with the measured time;
- journals ``service_opened`` / ``service_closed`` at the calendar's boundaries from the
  active site (T1-IQ02); runs drills (services.py), by hand or when planned.

Facts observed while the database could not be written (the primary's server died before
the standby was promoted) are kept in memory and journaled as soon as it can be, with the
time they happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from failover import health
from failover import models as m
from failover import rules
from failover.fencing import Lease, LeaseView
from failover.health import CheckResult
from failover.services import (
    SITE_FAILURE,
    SITE_SWITCHOVER,
    DrillRunner,
    carry_over_operators,
    close_dead_site_calls,
    record_switchover,
    start_drill,
)
from failover.settings import FailoverSettings, split_address
from guichet.settings import SettingsError, load_section
from ticket_core import journal
from ticket_core.business_time import BusinessCalendar
from ticket_core.db import create_engine, utcnow
from ticket_core.journal import EventKind, Fact
from ticket_core.models import JournalEvent

log = logging.getLogger("guichet.failover")

EXTRAS_KEY = "failover"
BOUNDARY_HORIZON = timedelta(hours=12)  # openings/closings older than this are not journaled late
MAX_PENDING = 5000


def _wall(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class SiteController:
    def __init__(self, container: Any, settings: FailoverSettings) -> None:
        self.container = container
        self.settings = settings
        cs = container.settings
        self.site: str = cs.site
        self.peer: str = settings.peer_site if settings.peer_site != cs.site else settings.preferred_site
        if self.peer == self.site:
            raise SettingsError(f"GUICHET_FAILOVER_PEER_SITE: the other site cannot be {self.site!r} too")
        self.preferred = self.site == settings.preferred_site
        self.zone = ZoneInfo(cs.timezone)
        self.rules = rules.RuleSettings.from_settings(settings)
        self.engine: Any = None
        self.lease: Lease = None  # type: ignore[assignment]
        self.state = m.STANDBY
        self.started_at = utcnow()
        self.activated_at: datetime | None = None
        self.own = rules.HealthHistory()
        self.own_but_database = rules.HealthHistory()
        self.peer_health = rules.HealthHistory()
        self.peer_database = rules.HealthHistory()
        self.checks: dict[str, CheckResult] = {}
        self.peer_checks: dict[str, CheckResult] = {}
        self.peer_report: dict[str, Any] | None = None
        self.local_database_state = "unknown"
        self.lease_view: LeaseView | None = None
        self.free_since: float | None = None
        self.last_switchover_at: float | None = None
        self.last_decision: rules.Decision | None = None
        self.drill_task: asyncio.Task[Any] | None = None
        self._known_epoch: int | None = None
        self._detected_at: float | None = None
        self._last_auto_request: float = 0.0
        self._pending: list[Fact] = []
        self._recorded: dict[str, tuple[bool, float]] = {}
        self._boundaries_done: set[tuple[str, datetime]] = set()
        self._calendar: BusinessCalendar | None = None
        self._calendar_at = 0.0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._fencing = False
        self._generation = 0  # +1 at every fence: an activation in progress then gives up
        self._published_at = 0.0
        self._published: tuple[Any, ...] | None = None
        self._pg: dict[str, Any] = {}  # persistent probe connections, by DSN
        self._dirty_channels = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._action: asyncio.Task[Any] | None = None
        self._renew_task: asyncio.Task[Any] | None = None
        self._last_renew = 0.0
        self._drill_check_at = 0.0
        self._record_after = 0.0
        self._slow: dict[str, CheckResult] = {}  # last results of the slow checks, by "own:smtp"…
        self._slow_at: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> SiteController:
        url = self.container.settings.effective_database_url
        kwargs = {} if url.startswith("sqlite") else {"pool_size": 3, "max_overflow": 2, "pool_timeout": 5}
        self.engine = create_engine(url, **kwargs)
        s = self.settings
        self.lease = Lease(self.engine, site=self.site, ttl=s.lease_ttl, margin=s.lease_margin,
                           handover_timeout=s.handover_timeout)
        self._record_after = time.monotonic() + 2 * s.probe_interval + s.probe_timeout
        # Calls left on this site's Asterisk by a previous run of the application (killed
        # while active) are hung up if the other site holds the lease by now; if the lease
        # is still this site's, the Stasis reconciliation re-attaches them instead.
        self._dirty_channels = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._load_last_switchover(), s.probe_timeout * 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._close_interrupted_drills(), s.probe_timeout * 2)
        self._tasks = [asyncio.create_task(self._main_loop(), name="failover-rounds"),
                       asyncio.create_task(self._lease_loop(), name="failover-lease")]
        log.info("failover: site %s (%s), other site %s", self.site,
                 "preferred" if self.preferred else "backup", self.peer)
        return self

    async def stop(self) -> None:
        """A clean stop: an active site hands over to the other one if it is healthy."""
        self._stopping = True
        if self.drill_task is not None:
            self.drill_task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in (*self._tasks, self._action, self._renew_task, self.drill_task):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        if self.active or self.lease.epoch is not None:
            try:
                if self.peer_health.last is True:
                    await asyncio.wait_for(self.lease.request(
                        self.peer, kind=m.MANUAL, by=f"site {self.site}", reason="arrêt du site actif"), 5)
                await self._deactivate()
                await asyncio.wait_for(self.lease.release(), 5)
            except Exception:  # noqa: BLE001
                log.exception("failover: handing over at stop failed")
        self.state = m.STOPPED
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._publish(), 3)
            await asyncio.wait_for(self._flush_pending(), 3)
        for conn in self._pg.values():
            conn.terminate()
        await self.engine.dispose()

    def wake(self) -> None:
        self._wake.set()

    @property
    def active(self) -> bool:
        return self.state == m.ACTIVE

    # --- the rounds ------------------------------------------------------------------------

    async def _main_loop(self) -> None:
        while not self._stopping:
            t0 = time.monotonic()
            try:
                await self._round()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("failover round failed")
            wait = max(0.05, self.settings.probe_interval - (time.monotonic() - t0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def _round(self) -> None:
        s = self.settings
        now = time.time()
        own, (peer, report), local_db, peer_db = await asyncio.gather(
            self._own_checks(), self._peer_checks(), self._pg_state(s.local_database_dsn),
            self._pg_state(s.peer_database_dsn))
        self.checks, self.peer_checks, self.peer_report = own, peer, report
        self.local_database_state = local_db or "unknown"
        crit = set(s.critical_checks)
        self.own.record(now, all(r.ok for n, r in own.items() if n in crit))
        self.own_but_database.record(now, all(r.ok for n, r in own.items() if n in crit - {"database"}))
        if peer:
            self.peer_health.record(now, all(r.ok for n, r in peer.items() if n in crit))
        if peer_db is not None:
            self.peer_database.record(now, peer_db != "down")
        try:
            view = await asyncio.wait_for(self.lease.read(), s.probe_timeout)
        except Exception as exc:  # noqa: BLE001 - an unwritable database is a state, not an error
            log.debug("lease unreadable: %s", exc)
            view = None
        self.lease_view = view
        if view is not None:
            free = view.holder is None or view.expired
            self.free_since = (self.free_since or now) if free else None
            if view.epoch != self._known_epoch:
                self._known_epoch = view.epoch
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._load_last_switchover(), s.probe_timeout)
        if self.active and not self.lease.held:
            await self._fence("active without a valid lease")
        await self._bounded(self._publish(force=False))
        if await self._open_now():
            self._record_probes()
        await self._bounded(self._flush_pending())
        if self.active:
            await self._bounded(self._calendar_boundaries())
            await self._bounded(self._scheduled_drills())
        elif (self._dirty_channels and view is not None and view.holder not in (None, self.site)
              and not view.expired):
            await self._bounded(self._hang_up_leftovers(), 10)
        decision = rules.decide(self._situation(now, view), self.rules)
        if decision != self.last_decision and decision.act is not rules.Act.NONE:
            log.info("failover decision: %s (%s)", decision.act, decision.reason)
        self.last_decision = decision
        if decision.act is not rules.Act.NONE and (self._action is None or self._action.done()):
            self._action = asyncio.create_task(self._act(decision), name=f"failover-{decision.act}")

    def _situation(self, now: float, view: LeaseView | None) -> rules.Situation:
        lease = None
        if view is not None:
            lease = rules.LeaseState(
                holder=view.holder, expired=view.expired, requested_holder=view.requested_holder,
                request_kind=view.request_kind, request_live=view.request_live(self.settings.handover_timeout),
                free_since=self.free_since)
        return rules.Situation(
            now=now, me=self.site, peer=self.peer, preferred=self.preferred,
            active=self.active and self.lease.epoch is not None, lease=lease, own=self.own,
            own_but_database=self.own_but_database, peer_health=self.peer_health,
            peer_database=self.peer_database, local_database_is_standby=self.local_database_state == "standby",
            last_switchover_at=self.last_switchover_at)

    async def _bounded(self, coro: Awaitable[Any], timeout: float | None = None) -> Any:
        try:
            return await asyncio.wait_for(coro, timeout or max(self.settings.probe_timeout, 2.0))
        except Exception as exc:  # noqa: BLE001
            log.debug("failover: %s", exc)
            return None

    # --- checks ----------------------------------------------------------------------------

    def endpoints(self) -> dict[str, str]:
        """Where this site's channels are reached (published for drills)."""
        cs, s = self.container.settings, self.settings
        out = {"http": s.http_url or f"http://{cs.http_host}:{cs.http_port}"}
        if cs.telephony:
            out["sip"] = s.sip_address or f"{cs.sip_host}:{cs.sip_port}"
        smtp = s.smtp_address
        mail = self.container.extras.get("mail")
        if not smtp and mail is not None and getattr(mail, "smtp_port", None):
            smtp = f"{mail.settings.smtp_host}:{mail.smtp_port}"
        if smtp:
            out["smtp"] = smtp
        return out

    def _ari(self) -> tuple[str, str, str]:
        from guichet.telephony_runtime import ari_password

        cs = self.container.settings
        host = cs.sip_host if cs.asterisk_manage else cs.ari_host
        return f"http://{host}:{cs.ari_port}/ari", cs.ari_username, ari_password(self.container)

    async def _own_checks(self) -> dict[str, CheckResult]:
        cs, s = self.container.settings, self.settings
        t = s.probe_timeout
        wanted = set(s.checks)
        jobs: dict[str, Awaitable[CheckResult]] = {}
        results: dict[str, CheckResult] = {}
        if "app" in wanted:
            results["app"] = CheckResult("app", True, 0.0)
        # A managed Asterisk only runs while the site is active: nothing to probe before.
        telephony = cs.telephony and (self.active or not cs.asterisk_manage)
        if "ari" in wanted and telephony:
            url, user, password = self._ari()
            jobs["ari"] = health.check_ari(url, user, password, t)
        endpoints = self.endpoints()
        if "sip" in wanted and telephony and "sip" in endpoints:
            jobs["sip"] = health.check_sip(*split_address(endpoints["sip"]), t)
        if "database" in wanted:
            jobs["database"] = health.check_database(self.container.engine, t)
        if "smtp" in wanted and "smtp" in endpoints:
            jobs["smtp"] = self._slow_check("own:smtp", lambda: health.check_smtp(*split_address(endpoints["smtp"]), t))
        if "chat" in wanted and self._has_chat():
            url = endpoints["http"].replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/chat/ws"
            jobs["chat"] = self._slow_check("own:chat", lambda: health.check_chat(url, t))
        for name, result in zip(jobs, await asyncio.gather(*jobs.values()), strict=True):
            results[name] = result
        return results

    def _slow_check(self, key: str, make: Callable[[], Awaitable[CheckResult]]) -> Awaitable[CheckResult]:
        """SMTP and chat are probed every ``slow_checks_every`` seconds (each SMTP probe is
        a session in the intake's log): the last result is reused in between."""
        last, at = self._slow.get(key), self._slow_at.get(key, 0.0)
        if last is not None and time.monotonic() - at < self.settings.slow_checks_every:
            async def cached() -> CheckResult:
                return last
            return cached()

        async def fresh() -> CheckResult:
            result = await make()
            self._slow[key], self._slow_at[key] = result, time.monotonic()
            return result
        return fresh()

    def _has_chat(self) -> bool:
        try:
            import chatgw.ws  # noqa: F401
        except ImportError:
            return False
        return True

    async def _peer_checks(self) -> tuple[dict[str, CheckResult], dict[str, Any] | None]:
        s = self.settings
        t = s.probe_timeout
        if not s.peer_url:
            return {}, None
        jobs: dict[str, Awaitable[Any]] = {"app": health.fetch_peer_health(s.peer_url, t)}
        if s.peer_sip_address and "sip" in s.checks:
            jobs["sip"] = health.check_sip(*split_address(s.peer_sip_address), t)
        if s.peer_smtp_address and "smtp" in s.checks:
            jobs["smtp"] = self._slow_check("peer:smtp", lambda: health.check_smtp(
                *split_address(s.peer_smtp_address), t))
        if self._has_chat() and "chat" in s.checks:
            url = s.peer_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/chat/ws"
            jobs["chat"] = self._slow_check("peer:chat", lambda: health.check_chat(url, t))
        done = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
        app, report = done.pop("app")
        results: dict[str, CheckResult] = {"app": app, **done}
        if report is not None:
            # What the other site says of its own components (ARI, its database…).
            for name, info in (report.get("checks") or {}).items():
                if name not in results and name != "app" and isinstance(info, dict) and "ok" in info:
                    results[name] = CheckResult(name, bool(info["ok"]), 0.0, "rapporté par le site")
        return results, report

    async def _pg_state(self, dsn: str) -> str | None:
        """``primary``/``standby``/``down`` of one PostgreSQL server, on a connection kept
        open between rounds (a new backend every second would load the server)."""
        if not dsn:
            return None
        import asyncpg

        t = self.settings.probe_timeout
        conn = self._pg.get(dsn)
        try:
            if conn is None or conn.is_closed():
                conn = self._pg[dsn] = await asyncio.wait_for(asyncpg.connect(dsn, timeout=t), t)
            in_recovery = await asyncio.wait_for(conn.fetchval("SELECT pg_is_in_recovery()"), t)
            return "standby" if in_recovery else "primary"
        except Exception:  # noqa: BLE001
            old = self._pg.pop(dsn, None)
            if old is not None:
                old.terminate()
            return "down"

    def report(self, *, public: bool = False) -> dict[str, Any]:
        """This site as the other one (``public``: ``/api/v1/failover/health``, ok flags
        only) and supervisors (details) see it."""
        crit = set(self.settings.critical_checks)
        if public:
            return {"site": self.site, "state": self.state, "active": self.active,
                    "epoch": self.lease.epoch if self.lease else None,
                    "healthy": bool(self.checks) and all(r.ok for n, r in self.checks.items() if n in crit),
                    "checks": {n: {"ok": r.ok} for n, r in self.checks.items()},
                    "peer": {"site": self.peer, "failed_rounds": len(self.peer_health.streak())}, "at": utcnow()}
        return {
            "site": self.site, "state": self.state, "active": self.active, "preferred": self.preferred,
            "epoch": self.lease.epoch if self.lease else None,
            "healthy": bool(self.checks) and all(r.ok for n, r in self.checks.items() if n in crit),
            "checks": {n: r.out() for n, r in self.checks.items()},
            "peer": {"site": self.peer, "checks": {n: r.out() for n, r in self.peer_checks.items()},
                     "failed_rounds": len(self.peer_health.streak())},
            "database": {"local_server": self.local_database_state},
            "decision": None if self.last_decision is None else {
                "act": str(self.last_decision.act), "reason": self.last_decision.reason},
            "activated_at": self.activated_at, "started_at": self.started_at, "at": utcnow(),
        }

    async def _publish(self, force: bool = True) -> None:
        """This site's row in ``failover_sites``: at once when its state or health changed,
        otherwise every few seconds (each write is a synchronous commit)."""
        crit = set(self.settings.critical_checks)
        summary = (self.state, self.lease.epoch, tuple(sorted((n, r.ok) for n, r in self.checks.items())),
                   tuple(sorted((n, r.ok) for n, r in self.peer_checks.items())))
        if not force and summary == self._published and time.monotonic() - self._published_at < max(
                5.0, self.settings.probe_interval):
            return
        self._published, self._published_at = summary, time.monotonic()
        async with self.container.session_factory() as session:
            row = await session.get(m.FailoverSite, self.site)
            if row is None:
                row = m.FailoverSite(site=self.site, started_at=self.started_at)
                session.add(row)
            row.state, row.epoch = self.state, self.lease.epoch
            row.healthy = bool(self.checks) and all(r.ok for n, r in self.checks.items() if n in crit)
            row.checks = {n: r.out() for n, r in self.checks.items()}
            row.peer_checks = {n: r.out() for n, r in self.peer_checks.items()}
            row.endpoints = self.endpoints()
            row.updated_at, row.activated_at, row.started_at = utcnow(), self.activated_at, self.started_at
            await session.commit()

    # --- journal: probes (T1-IQ01), openings and closings (T1-IQ02) -----------------------

    async def _open_now(self) -> bool:
        now = self.container.clock()
        if self._calendar is None or time.monotonic() - self._calendar_at > 60:
            try:
                async with self.container.session_factory() as session:
                    self._calendar = await asyncio.wait_for(self.container.calendar(session),
                                                            self.settings.probe_timeout)
                self._calendar_at = time.monotonic()
            except Exception:  # noqa: BLE001 - the database may be down: the settings' hours
                if self._calendar is None:
                    self._calendar = BusinessCalendar(self.container.settings.opening_hours)
        return self._calendar.is_open(now)

    def _record_probes(self) -> None:
        """The active site journals its own checks; a standby journals what it sees of the
        active site while that one cannot (its application does not answer)."""
        at = self.container.clock()
        if self.active:
            results, probed = self.checks, self.site
        elif (self.peer_checks.get("app") is not None and not self.peer_checks["app"].ok and self._peer_was_active()
              and self.peer_health.failing(time.time(), self.rules.failures_to_switch, self.rules.failure_window)):
            # Only once the active site is judged failed (a glitch of the path between the
            # sites is not an outage), from the first failure of the streak on.
            results, probed = self.peer_checks, self.peer
            first = _dt(self.peer_health.first_failure())
            if "app" not in self._recorded and first is not None:
                at = first
                log.warning("failover: site %s failed (since %s): journaling its outage", self.peer, first)
        else:
            self._recorded.clear()
            return
        mono = time.monotonic()
        if self.active and mono < self._record_after:
            return  # starting up: the web server (chat) may not listen yet
        # During another site's outage, every round: a later "ok" the dying site still
        # wrote of itself must not hide the outage for a whole record_every.
        every = self.settings.record_every if self.active else 0.0
        for name, r in results.items():
            last = self._recorded.get(name)
            if last is None or last[0] != r.ok or mono - last[1] >= every:
                data: dict[str, Any] = {"check": name, "ok": r.ok, "probed_site": probed, "ms": round(r.seconds * 1000, 1)}
                if not r.ok:
                    data["detail"] = r.detail[:200]
                self._pending.append(Fact(kind=EventKind.PROBE_RESULT, occurred_at=at, data=data))
                self._recorded[name] = (r.ok, mono)
        del self._pending[:-MAX_PENDING]

    def _peer_was_active(self) -> bool:
        view = self.lease_view
        return view is None or view.holder == self.peer

    async def _flush_pending(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending)
        async with self.container.session_factory() as session:
            for fact in batch:
                journal.append(session, fact, site=self.site)
            await session.commit()
        del self._pending[:len(batch)]

    async def _calendar_boundaries(self) -> None:
        """At each opening and closing of the calendar, the active site journals that the
        service opened (only once it is fit to serve: a late opening shows) or closed."""
        now = self.container.clock()
        async with self.container.session_factory() as session:
            calendar = await self.container.calendar(session)
            today = now.astimezone(calendar.hours.zone).date()
            tol = timedelta(seconds=60)
            for day in (today - timedelta(days=1), today):
                for ws, we in calendar.window(day):
                    for kind, instant in ((EventKind.SERVICE_OPENED, ws), (EventKind.SERVICE_CLOSED, we)):
                        key = (kind.value, instant)
                        if instant > now or now - instant > BOUNDARY_HORIZON or key in self._boundaries_done:
                            continue
                        exists = await session.scalar(select(JournalEvent.id).where(
                            JournalEvent.kind == kind.value, JournalEvent.occurred_at >= instant - tol,
                            JournalEvent.occurred_at <= now + tol).limit(1))
                        if exists is not None:
                            self._boundaries_done.add(key)
                            continue
                        if kind is EventKind.SERVICE_OPENED and self.own.last is not True:
                            continue  # not fit to serve yet: journaled (late) once it is
                        journal.append(session, Fact(kind=kind, occurred_at=now, data={
                            "scheduled_at": instant.isoformat(), "late_seconds": round((now - instant).total_seconds(), 1),
                        }), site=self.site)
                        self._boundaries_done.add(key)
            await session.commit()

    # --- actions ---------------------------------------------------------------------------

    async def _act(self, decision: rules.Decision) -> None:
        try:
            if decision.act is rules.Act.ACQUIRE:
                await self.take_over(decision)
            elif decision.act is rules.Act.PROMOTE:
                await self.take_over(decision, promote=True)
            elif decision.act is rules.Act.REQUEST_HANDOVER:
                throttle = max(self.settings.failure_window, 3 * self.settings.probe_interval)
                if decision.kind == rules.AUTOMATIC and time.monotonic() - self._last_auto_request < throttle:
                    return
                self._last_auto_request = time.monotonic()
                self._detected_at = decision.detected_at
                await self.lease.request(self.site, kind=decision.kind or rules.AUTOMATIC, by=f"site {self.site}",
                                         reason=decision.reason)
                log.warning("failover: asked site %s to hand over (%s)", self.peer, decision.reason)
            elif decision.act is rules.Act.RELEASE:
                await self.hand_over(decision)
            elif decision.act is rules.Act.REFUSE_REQUEST:
                await self.lease.clear_request(reason=decision.reason)
        except Exception:  # noqa: BLE001
            log.exception("failover action %s failed", decision.act)
        finally:
            self.wake()

    async def take_over(self, decision: rules.Decision, *, promote: bool = False) -> None:
        s = self.settings
        async with self._lock:
            if self.active or self._stopping:
                return
            detected = decision.detected_at or self._detected_at
            promoted, promotion_seconds = False, None
            if promote:
                if not (s.promote and s.local_database_dsn):
                    return
                t0 = time.monotonic()
                log.warning("failover: promoting the local PostgreSQL standby (%s)", decision.reason)
                await health.promote(s.local_database_dsn, timeout=30)
                promoted, promotion_seconds = True, round(time.monotonic() - t0, 3)
                self.local_database_state = "primary"
                await self._wait_writable(30)
                log.warning("failover: standby promoted in %.2fs", promotion_seconds)
            # A failed site's lease is waited for until it expires; otherwise the lease must
            # be free or handed over now (the decision may rest on a view a round old).
            waits = decision.kind in (rules.AUTOMATIC, rules.SELF_RELEASE) or promote
            deadline = time.monotonic() + (s.lease_ttl + 2 * s.probe_timeout + 2 if waits else 2 * s.probe_timeout)
            epoch, before = None, None
            while not self._stopping:
                try:
                    epoch, before = await asyncio.wait_for(self.lease.try_acquire(), s.probe_timeout * 2)
                except Exception as exc:  # noqa: BLE001
                    log.info("failover: lease not acquired yet: %s %s", type(exc).__name__, exc)
                if epoch is not None or time.monotonic() > deadline:
                    break
                if before is not None and before.request_live(s.handover_timeout) and before.requested_holder not in (
                        None, self.site):
                    return  # handed over to the other site meanwhile
                if before is not None and not before.expired and before.holder != self.site:
                    if not waits:
                        return
                    # Wait for the failed site's lease to expire (database time).
                    remaining = (before.expires_at - before.db_now).total_seconds() if before.expires_at else 0
                    await asyncio.sleep(min(max(0.1, remaining + 0.05), 1.0))
                else:
                    await asyncio.sleep(0.2)
            if epoch is None or before is None:
                return
            generation = self._generation

            def still_ours() -> bool:
                return self._generation == generation and self.lease.epoch == epoch and not self._stopping
            requested = before.requested_holder == self.site and before.request_live(s.handover_timeout)
            kind = decision.kind or (before.request_kind if requested else None) or rules.AUTOMATIC
            if requested and before.request_kind:
                kind = before.request_kind
            from_site = before.holder if before.holder not in (None, self.site) else None
            if detected is None:
                detected = _wall(before.requested_at) if requested else time.time()
            self.state = m.ACTIVATING
            await self._bounded(self._publish())
            t_act = time.monotonic()
            try:
                await asyncio.wait_for(self.container.extras["activate_site"](), s.activation_timeout)
            except Exception:  # noqa: BLE001
                log.exception("failover: activation of site %s failed: giving the lease back", self.site)
                await self._deactivate()
                with contextlib.suppress(Exception):
                    await self.lease.release(keep_request=False)
                self.state = m.STANDBY
                return
            if not still_ours():
                log.error("failover: lease lost while activating: deactivating")
                await self._deactivate()
                self.state = m.STANDBY
                return
            lost = 0
            if from_site is not None:
                # Before saying "active": the other site's calls closed (with callbacks),
                # its operators logged in here, so the first call finds them.
                reason = SITE_FAILURE if kind in (rules.AUTOMATIC, rules.SELF_RELEASE) else SITE_SWITCHOVER
                at = _dt(detected) if reason == SITE_FAILURE else utcnow()
                try:
                    lost = await close_dead_site_calls(self.container, from_site, at=at or utcnow(), reason=reason,
                                                       callback_cut_calls=s.callback_cut_calls)
                except Exception:  # noqa: BLE001
                    log.exception("failover: closing the calls of site %s failed", from_site)
            if s.carry_over_operators:
                try:
                    await carry_over_operators(self.container, from_site or self.peer)
                except Exception:  # noqa: BLE001
                    log.exception("failover: carrying operators over failed")
            activation_seconds = round(time.monotonic() - t_act, 3)
            if not still_ours():
                log.error("failover: lease lost while taking over: deactivating")
                await self._deactivate()
                self.state = m.STANDBY
                return
            self.state = m.ACTIVE
            self.activated_at = utcnow()
            self._recorded.clear()  # journal every check now: availability resumes at once
            self._dirty_channels = False
            await self._bounded(self._publish())
            log.warning("failover: site %s is ACTIVE (epoch %d, %s, from %s)", self.site, epoch, kind, from_site)
            if from_site is not None:
                drill_id = None
                found = re.search(r"n°(\d+)", before.request_reason or "") if kind == rules.DRILL else None
                if found:
                    drill_id = int(found.group(1))
                await record_switchover(
                    self.container, from_site=from_site, kind=kind,
                    reason=(before.request_reason if requested and before.request_reason else decision.reason),
                    requested_by=before.requested_by if requested else None,
                    detected_at=_dt(detected) or utcnow(), completed_at=utcnow(), epoch=epoch, promoted=promoted,
                    promotion_seconds=promotion_seconds, activation_seconds=activation_seconds, calls_lost=lost,
                    drill_id=drill_id)
                self.last_switchover_at = time.time()
            self._detected_at = None

    async def _wait_writable(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await health.check_database(self.container.engine, self.settings.probe_timeout)
            if result.ok:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the promoted database does not accept writes")

    async def hand_over(self, decision: rules.Decision) -> None:
        async with self._lock:
            if not self.active:
                return
            log.warning("failover: site %s hands over to %s (%s)", self.site, self.peer, decision.reason)
            if decision.kind == rules.SELF_RELEASE:
                await self.lease.request(self.peer, kind=rules.SELF_RELEASE, by=f"site {self.site}",
                                         reason=decision.reason)
            self.state = "releasing"
            await self._deactivate()
            await self._bounded(self._hang_up_leftovers(), 10)
            await self.lease.release(keep_request=True)
            self.state = m.STANDBY
            self.activated_at = None
            await self._bounded(self._publish())

    async def _deactivate(self) -> None:
        try:
            await asyncio.wait_for(self.container.extras["deactivate_site"](), self.settings.activation_timeout)
        except Exception:  # noqa: BLE001
            log.exception("failover: deactivation failed")

    async def _fence(self, reason: str) -> None:
        if self._fencing:
            return
        self._fencing = True
        self._generation += 1
        if self._renew_task is not None:
            self._renew_task.cancel()
        try:
            log.error("failover: site %s FENCED (%s): deactivating", self.site, reason)
            self.lease.forget()
            was = self.state
            self.state = m.FENCED
            if was in (m.ACTIVE, m.ACTIVATING):
                await self._deactivate()
                self._dirty_channels = True
            self.activated_at = None
            self.state = m.STANDBY
        finally:
            self._fencing = False
            self.wake()

    async def _hang_up_leftovers(self) -> None:
        """Calls left on this site's Asterisk after its Stasis app stopped would wait in
        silence forever: hang them up (the site taking over records them as lost)."""
        cs = self.container.settings
        self._dirty_channels = False
        if not cs.telephony or cs.asterisk_manage:
            return  # a managed Asterisk was stopped with the site
        from telephony.ari import AriClient, AriError

        url, user, password = self._ari()
        client = AriClient(url, user, password, app=cs.stasis_app)
        try:
            for channel in await client.list_channels():
                with contextlib.suppress(AriError):
                    await client.hangup(channel["id"])
        finally:
            await client.close()

    # --- the lease while active ------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.2)
            if self.lease.epoch is None:
                continue
            now = time.monotonic()
            if now >= self.lease.valid_until:
                await self._fence("the lease could not be renewed in time")
                continue
            if now - self._last_renew >= self.settings.renew_every and (
                    self._renew_task is None or self._renew_task.done()):
                self._last_renew = now
                self._renew_task = asyncio.create_task(self._renew(), name="failover-renew")

    async def _renew(self) -> None:
        epoch = self.lease.epoch
        try:
            # As long as it takes, up to the deadline (a slow commit is not a lost lease).
            view = await asyncio.wait_for(self.lease.renew(), max(0.5, self.lease.valid_until - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - the deadline decides
            log.warning("failover: lease renewal failed: %s %s", type(exc).__name__, exc)
            return
        if view is None:
            if self.lease.epoch is None and epoch is not None:
                await self._fence("the lease was taken by the other site")
            return
        self.lease_view = view
        if view.request_live(self.settings.handover_timeout) and view.requested_holder == self.peer:
            self.wake()

    # --- misc ------------------------------------------------------------------------------

    async def _close_interrupted_drills(self) -> None:
        """Drills still "running" long after any drill would have ended were interrupted
        (their site stopped): recorded as failed, so the records tell the truth."""
        s = self.settings
        limit = utcnow() - timedelta(seconds=2 * s.drill_switch_timeout + s.drill_call_timeout + 120)
        async with self.container.session_factory() as session:
            for drill in await session.scalars(select(m.Drill).where(
                    m.Drill.status == m.RUNNING, m.Drill.started_at < limit)):
                drill.status, drill.ended_at = m.FAILED, utcnow()
                drill.error = (drill.error + " interrompu (arrêt du site qui le menait)").strip()
            await session.commit()

    async def _load_last_switchover(self) -> None:
        async with self.container.session_factory() as session:
            last = await session.scalar(select(m.Switchover.completed_at).order_by(
                m.Switchover.completed_at.desc()).limit(1))
        self.last_switchover_at = _wall(last)

    async def lease_view_in(self, session: AsyncSession) -> LeaseView:
        from failover.fencing import _view, db_now

        row = await self.lease._row(session)
        return _view(row, await db_now(session))

    def start_drill_task(self, drill_id: int) -> None:
        async def run() -> None:
            try:
                await DrillRunner(self, drill_id).run()
            except Exception:  # noqa: BLE001
                log.exception("drill %s could not run", drill_id)

        self.drill_task = asyncio.create_task(run(), name=f"failover-drill-{drill_id}")

    async def _scheduled_drills(self) -> None:
        """Planned drills that are due are started by the active site (when enabled)."""
        if not self.settings.auto_run_drills or time.monotonic() - self._drill_check_at < 30:
            return
        self._drill_check_at = time.monotonic()
        if self.drill_task is not None and not self.drill_task.done():
            return
        now = utcnow()
        async with self.container.session_factory() as session:
            plan = await session.scalar(select(m.DrillPlan).where(
                m.DrillPlan.status == m.PLANNED, m.DrillPlan.planned_for <= now,
                m.DrillPlan.planned_for > now - timedelta(days=1)).order_by(m.DrillPlan.planned_for).limit(1))
            if plan is None:
                return
            await start_drill(self, session, user_id=None, by=f"calendrier (site {self.site})", plan_id=plan.id,
                              trigger="scheduled")
            await session.commit()


async def start(container: Any, settings: FailoverSettings | None = None) -> Callable[[], Awaitable[None]]:
    if not container.settings.failover:
        async def noop() -> None:
            return None
        return noop
    settings = settings or load_section(FailoverSettings, "failover")
    controller = await SiteController(container, settings).start()
    container.extras[EXTRAS_KEY] = controller
    container.extras["site_is_active"] = lambda: controller.active
    print(f"Failover: site {controller.site} ({'preferred' if controller.preferred else 'backup'}), "
          f"other site {controller.peer} at {settings.peer_url or '(not set)'}; "
          f"lease {settings.lease_ttl:g}s, probes every {settings.probe_interval:g}s", flush=True)

    async def stop() -> None:
        await controller.stop()
        container.extras.pop(EXTRAS_KEY, None)
        container.extras.pop("site_is_active", None)

    return stop
