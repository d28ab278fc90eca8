"""The site controller (failover/runtime.py) without telephony: two sites in this process,
each with its web application on loopback, on one database (SQLite and PostgreSQL), with
activation hooks that record what they are asked to do — so the lease, the rules and the
API are exercised in seconds: one site active at a time, manual switchover and failback,
self-fencing of a site that lost its lease, the journal facts of T1-IQ01/02 and T3-IQ03."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select, update

from accounts.services import create_user
from failover import models as m
from failover.runtime import SiteController
from failover.settings import FailoverSettings
from guichet.bootstrap import Container, build_container
from guichet.settings import load_settings
from guichet.web import create_app
from tests.support.net import free_port
from ticket_core.models import JournalEvent

PASSWORD = "correct horse battery"
ALWAYS_OPEN = {"opening_days": "mon-sun", "opening_time": "00:00", "closing_time": "23:59:59"}


@dataclass
class Hooks:
    """activate_site/deactivate_site of both sites; checks that two are never active."""

    active: set[str] = field(default_factory=set)
    log: list[tuple[str, str]] = field(default_factory=list)
    overlaps: int = 0

    def for_site(self, site: str) -> tuple[Any, Any]:
        async def activate() -> None:
            if self.active - {site}:
                self.overlaps += 1
            self.active.add(site)
            self.log.append(("activate", site))

        async def deactivate() -> None:
            self.active.discard(site)
            self.log.append(("deactivate", site))

        return activate, deactivate

    def sites_in_turn(self) -> list[str]:
        """The sites that were active, in turn (repeated activations of one site folded)."""
        out: list[str] = []
        for what, site in self.log:
            if what == "activate" and (not out or out[-1] != site):
                out.append(site)
        return out


@dataclass
class LocalSite:
    container: Container
    controller: SiteController
    runner: web.AppRunner
    url: str


@dataclass
class Pair:
    primary: LocalSite
    backup: LocalSite
    hooks: Hooks

    async def wait(self, predicate: Any, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; states {self.primary.controller.state}/"
                                     f"{self.backup.controller.state}; hooks {self.hooks.log}")
            await asyncio.sleep(0.05)

    async def api(self, site: LocalSite, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with aiohttp.ClientSession(trust_env=False) as http:
            async with http.post(site.url + "/api/v1/auth/login",
                                 json={"username": "superviseur", "password": PASSWORD}) as r:
                token = (await r.json())["token"]
            async with http.request(method, site.url + path, json=body,
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                return r.status, await r.json()

    async def wait_facts(self, kind: str, count: int, timeout: float = 10) -> list[JournalEvent]:
        deadline = time.monotonic() + timeout
        while len(rows := await self.facts(kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(rows)} {kind} facts, not {count}")
            await asyncio.sleep(0.1)
        return rows

    async def facts(self, kind: str) -> list[JournalEvent]:
        async with self.primary.container.session_factory() as s:
            return list(await s.scalars(select(JournalEvent).where(JournalEvent.kind == kind)
                                        .order_by(JournalEvent.id)))


@pytest.fixture
async def pair(db_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    hooks = Hooks()
    ports = {"primary": free_port(), "backup": free_port()}
    sites: dict[str, LocalSite] = {}
    for name, peer in (("primary", "backup"), ("backup", "primary")):
        settings = load_settings({**ALWAYS_OPEN, "database_url": db_url, "data_dir": str(tmp_path / name),
                                  "site": name, "failover": True, "telephony": False, "http_port": ports[name]})
        container = build_container(settings)
        container.extras["activate_site"], container.extras["deactivate_site"] = hooks.for_site(name)
        fo = FailoverSettings(peer_site=peer, peer_url=f"http://127.0.0.1:{ports[peer]}", probe_interval=0.2,
                              probe_timeout=2, checks=["app", "database"], critical_checks=["app", "database"],
                              failures_to_switch=3, failure_window=10, lease_ttl=5, lease_margin=1.5,
                              handover_timeout=10, min_seconds_between_switchovers=1, record_every=1)
        runner = web.AppRunner(create_app(container), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ports[name]).start()
        controller = SiteController(container, fo)
        sites[name] = LocalSite(container, controller, runner, f"http://127.0.0.1:{ports[name]}")
    async with sites["primary"].container.session_factory() as s:
        await create_user(s, username="superviseur", password=PASSWORD, role="supervisor")
        await s.commit()
    for site in sites.values():
        await site.controller.start()
        site.container.extras["failover"] = site.controller
    p = Pair(sites["primary"], sites["backup"], hooks)
    try:
        await p.wait(lambda: p.primary.controller.active and p.backup.controller.peer_health.last is True)
        yield p
    finally:
        for site in sites.values():
            await site.controller.stop()
            await site.runner.cleanup()
            await site.container.close()


async def test_given_a_pair_then_the_preferred_site_is_active_and_a_supervisor_switches_over_and_back(pair: Pair):
    p = pair
    assert p.backup.controller.state == m.STANDBY
    status, body = await p.api(p.backup, "POST", "/api/v1/failover/switchover", {"reason": "maintenance du site"})
    assert status == 202, body
    await p.wait(lambda: p.backup.controller.active)
    assert not p.primary.controller.active
    status, body = await p.api(p.primary, "POST", "/api/v1/failover/failback", {})
    assert status == 202, body
    await p.wait(lambda: p.primary.controller.active)
    assert not p.backup.controller.active
    assert p.hooks.overlaps == 0
    # (a busy machine may make a site fence itself and resume: same site, no switchover)
    assert p.hooks.sites_in_turn() == ["primary", "backup", "primary"]
    facts = await p.wait_facts("site_switched_over", 2)
    facts = [f.data for f in facts]
    assert [(d["from"], d["to"], d["kind"], d["requested_by"]) for d in facts] == [
        ("primary", "backup", "manual", "superviseur"), ("backup", "primary", "failback", "superviseur")]
    assert all(0 <= d["seconds"] < 20 for d in facts)
    status, body = await p.api(p.primary, "GET", "/api/v1/failover/status")
    assert status == 200 and body["active_site"] == "primary"
    assert {s["site"]: s["state"] for s in body["sites"]} == {"primary": "active", "backup": "standby"}
    assert [s["kind"] for s in body["switchovers"]] == ["failback", "manual"]


async def test_given_switchover_to_the_site_already_active_then_refused(pair: Pair):
    status, body = await pair.api(pair.primary, "POST", "/api/v1/failover/switchover",
                                  {"to": "primary", "reason": "pour voir"})
    assert status == 409, body


async def test_given_the_active_site_loses_its_lease_then_it_deactivates_itself(pair: Pair):
    p = pair
    mark = len(p.hooks.log)
    # Someone else's epoch on the lease (what a promoted standby's new holder looks like).
    async with p.primary.container.session_factory() as s:
        await s.execute(update(m.FailoverLease).where(m.FailoverLease.name == "acd")
                        .values(epoch=m.FailoverLease.epoch + 100))
        await s.commit()
    await p.wait(lambda: ("deactivate", "primary") in p.hooks.log[mark:], timeout=15)
    assert p.hooks.overlaps == 0
    # …and, the lease being its own again once it expires, the preferred site resumes.
    await p.wait(lambda: p.primary.controller.active, timeout=20)
    assert p.hooks.overlaps == 0


async def test_given_the_active_site_then_probes_and_the_opening_are_journaled(pair: Pair):
    p = pair
    probes = await p.wait_facts("probe_result", 2)
    assert {(f.site, f.data["check"], f.data["ok"]) for f in probes} >= {("primary", "app", True),
                                                                        ("primary", "database", True)}
    assert not [f for f in probes if f.site == "backup"]  # the standby journals nothing while the primary is fine
    # Always open: today's opening (00:00 Paris) was before the site started: journaled, late.
    [opened] = await p.wait_facts("service_opened", 1)
    assert opened.site == "primary" and opened.data["late_seconds"] > 0


async def test_given_the_active_site_crashes_then_the_backup_journals_the_outage_and_takes_over(pair: Pair):
    from datetime import timedelta

    from failover import indicators
    from ticket_core.db import utcnow

    p = pair
    t0 = utcnow()
    # A crash: no hand-over, no release; its web server gone.
    dead = p.primary.controller
    dead._stopping = True
    for task in dead._tasks:
        task.cancel()
    await p.primary.runner.cleanup()
    await p.wait(lambda: p.backup.controller.active, timeout=30)
    [switch] = [f.data for f in await p.wait_facts("site_switched_over", 1)]
    assert (switch["from"], switch["kind"]) == ("primary", "automatic")
    probes = await p.wait_facts("probe_result", 1)
    failed = [f for f in probes if f.site == "backup" and f.data["ok"] is False]
    assert {f.data["check"] for f in failed} >= {"app"}
    assert all(f.data["probed_site"] == "primary" for f in failed)
    async with p.backup.container.session_factory() as s:
        cal = await p.backup.container.calendar(s)
        await asyncio.sleep(1.5)  # the backup's own checks journaled once active
        a = await indicators.availability(s, cal, t0 - timedelta(minutes=1), utcnow(), now=utcnow())
    assert 0 < a.down_seconds < 30, a.out()
