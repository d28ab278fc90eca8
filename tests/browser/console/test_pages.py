"""The wallboard and the console as people see them all day, in headless Chromium, without
telephony: a database with the demo history (``guichet demo-data --months 1``) and a
morning driven through the real ACD service (calls queued, offered, answered, abandoned,
operators pausing), then the ticket form's escalation and redirection, and an auditor's
read-only view. Screenshots of both pages are saved (and looked at)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect
from sqlalchemy import func, select

from acd import domain as d
from accounts.models import User
from accounts.services import actor_of, create_user
from demo.generator import DEMO_PASSWORD, run_demo_data
from guichet.bootstrap import build_container
from guichet.settings import load_settings
from telephony import models as calls
from tests.browser.console.conftest import PASSWORD, accessibility_problems, open_as, served
from ticket_core.models import Requester, RequesterPhone, RequestType, Ticket

PARIS = ZoneInfo("Europe/Paris")


def paris(h: int, m: int = 0, s: float = 0) -> datetime:
    return datetime(2026, 3, 3, h, m, int(s), tzinfo=PARIS).astimezone(UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def demo_center(template_databases, tmp_path: Path):
    """The demo history of February 2026 and a simulated morning of Tuesday 3 March 2026
    until 11:40, driven through the real ACD service with a moving clock."""
    import shutil

    db = tmp_path / "demo.sqlite3"
    shutil.copyfile(template_databases["sqlite"], db)
    settings = load_settings({"database_url": f"sqlite+aiosqlite:///{db}", "data_dir": str(tmp_path / "var")})
    assert await run_demo_data(settings, months=1, scale=1, seed=2026, end="2026-02") == 0
    clock = Clock(paris(8, 25))
    container = build_container(settings, clock=clock)
    await simulate_morning(container, clock)
    try:
        yield container, clock
    finally:
        await container.close()


async def simulate_morning(container, clock: Clock) -> None:
    rng = Random(20260303)
    acd = await container.start_acd()
    async with container.session_factory() as s:
        ops = {u.username: str(u.id) for u in await s.scalars(
            select(User).where(User.role == "operator").order_by(User.username))}
        phones = list(await s.scalars(select(RequesterPhone.number).limit(400)))
    staff = ["op01", "op02", "op03", "op04", "op05", "op06"]
    # Arrivals: a morning peak around 10:00 and a busy end of morning.
    arrivals = []
    t = paris(8, 31)
    while t < paris(11, 39, 30):
        hour = t.astimezone(PARIS).hour + t.astimezone(PARIS).minute / 60
        rate = 14 + 10 * math.exp(-((hour - 10.0) ** 2) / 0.6) + (16 if hour > 11.2 else 0)  # calls per hour
        t += timedelta(seconds=rng.expovariate(rate / 3600))
        arrivals.append(t)
    audiences = ["citoyen"] * 5 + ["avocat"] * 3 + ["administration"] * 2
    calls_info: dict[str, dict] = {}
    answers: list[tuple[datetime, str, str]] = []
    ends: list[tuple[datetime, str]] = []
    schedule = {  # (time, operator, action, reason)
        paris(8, 30): [(op, "login", None) for op in staff],
        paris(9, 45): [("op03", "pause", "pause")], paris(10, 0): [("op03", "unpause", None)],
        paris(10, 50): [("op06", "pause", "formation")],
        paris(11, 20): [("op05", "pause", "courriels")],
        paris(11, 33): [("op04", "pause", "pause")],
    }
    step = timedelta(seconds=2)
    now = paris(8, 29)
    i = 0
    while now < paris(11, 40):
        now += step
        clock.now = now
        for at in [k for k in schedule if k <= now]:
            for op, action, reason in schedule.pop(at):
                try:
                    if action == "pause":
                        acd.acd.pause(ops[op], reason, now)
                    else:
                        getattr(acd.acd, action)(ops[op], now)
                except d.AcdError:
                    schedule.setdefault(now + timedelta(seconds=30), []).append((op, action, reason))
        while i < len(arrivals) and arrivals[i] <= now:
            call_id = f"sim-{i:03d}"
            audience = rng.choice(audiences)
            number = rng.choice(phones) if rng.random() < 0.7 else f"+336{rng.randrange(10**8):08d}"
            async with container.session_factory() as s:
                s.add(calls.Call(id=call_id, site="primary", caller_number=number, caller_raw=number,
                                 audience=audience, received_at=now - timedelta(seconds=8)))
                await s.commit()
            acd.acd.enqueue(d.Call(call_id, audience, number), now)
            calls_info[call_id] = {"patience": rng.uniform(25, 200), "at": now, "number": number, "audience": audience}
            i += 1
        acd.acd.tick(now)
        for offer in acd.acd.dispatch(now):
            answers.append((now + timedelta(seconds=rng.uniform(2, 6)), offer.call_id, offer.operator_id))
        for item in [a for a in answers if a[0] <= now]:
            answers.remove(item)
            _, call_id, op = item
            try:
                acd.acd.ring_answered(call_id, op, now)
            except d.AcdError:
                continue
            ends.append((now + timedelta(seconds=rng.lognormvariate(math.log(420), 0.45)), call_id))
            await _ticket_for(container, call_id, calls_info[call_id], int(op))
        for item in [e for e in ends if e[0] <= now]:
            ends.remove(item)
            if item[0] > paris(11, 39):
                continue
            acd.acd.call_ended(item[1], now)
            await _resolve(container, item[1], rng)
        for call_id, info in calls_info.items():
            if "done" in info:
                continue
            try:
                view = acd.acd.call(call_id)
            except d.AcdError:
                info["done"] = True
                continue
            if view.state is d.CallState.WAITING and (now - view.entered_at).total_seconds() > info["patience"] \
                    and now < paris(11, 38):
                acd.acd.abandon(call_id, now)
                info["done"] = True
        await acd.flush()
    await _mails(container, clock, rng)


async def _ticket_for(container, call_id: str, info: dict, operator_id: int) -> None:
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        requester = await svc.find_or_create_requester(phone=info["number"], audience=info["audience"])
        ticket = await svc.create_ticket(channel="phone", audience=info["audience"], requester_id=requester.id,
                                         source_ref=f"call:{call_id}", call_id=call_id, received_at=info["at"])
        ticket.assignee_id = operator_id
        call = await s.get(calls.Call, call_id)
        call.ticket_id, call.requester_id = ticket.id, requester.id
        await s.commit()


async def _resolve(container, call_id: str, rng: Random) -> None:
    async with container.session_factory() as s:
        call = await s.get(calls.Call, call_id)
        ticket = await s.get(Ticket, call.ticket_id)
        user = await s.get(User, ticket.assignee_id)
        svc = await container.tickets(s)
        rtype = rng.choice(["connexion", "connexion", "configuration", "depot", "information", "incident-acces"])
        app = {"avocat": "tr-avocats-ta", "administration": "tr-administrations"}.get(ticket.audience_code, "tr-citoyens")
        await svc.qualify(ticket.id, actor_of(user), application=app, request_type=rtype, severity=rng.choice([2, 3, 3]))
        if rng.random() < 0.85:
            await svc.transition(ticket.id, "resolve", actor_of(user))
        await s.commit()


async def _mails(container, clock: Clock, rng: Random) -> None:
    end = clock.now
    subjects = ["Impossible de me connecter", "Demande d'accès pour un collaborateur", "Dossier introuvable",
                "Erreur lors du dépôt d'une pièce", "Question sur une notification", "Changement d'adresse du cabinet",
                "Mot de passe expiré", "Accusé de réception non reçu"]
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        taker = await s.scalar(select(User).where(User.username == "op02"))
        for n, (h, m) in enumerate([(6, 12), (7, 48), (9, 20), (10, 5), (10, 41), (11, 2), (11, 18), (11, 31)]):
            clock.now = paris(h, m)
            email = f"usager{n}@exemple.fr"
            requester = await svc.find_or_create_requester(email=email, audience=rng.choice(["avocat", "citoyen"]))
            ticket = await svc.create_ticket(channel="mail", audience=requester.audience_code, requester_id=requester.id,
                                             subject=subjects[n])
            if n in (1, 3, 5):
                clock.now = paris(h, m) + timedelta(minutes=25)
                await svc.transition(ticket.id, "take", actor_of(taker))
        await s.commit()
    clock.now = end


async def _pop_call_for(container, username: str) -> tuple[str, str]:
    """A caller with a history calls and is answered by ``username`` at 11:39:20."""
    hub = container.extras["console"]
    acd = container.extras["acd"]
    async with container.session_factory() as s:
        user = await s.scalar(select(User).where(User.username == username))
        requester_id = await s.scalar(select(Ticket.requester_id).join(RequesterPhone, RequesterPhone.requester_id == Ticket.requester_id)
                                      .where(Ticket.audience_code == "avocat").group_by(Ticket.requester_id)
                                      .order_by(func.count().desc()).limit(1))
        number = await s.scalar(select(RequesterPhone.number).where(RequesterPhone.requester_id == requester_id))
        requester = await s.get(Requester, requester_id)
    op = str(user.id)
    now = paris(11, 39, 20)
    view = acd.acd.operator(op)
    if view.state is d.OperatorState.ON_CALL:
        acd.acd.call_ended(view.call_id, now - timedelta(seconds=40))
    view = acd.acd.operator(op)
    if view.state is d.OperatorState.WRAP_UP:
        acd.acd.end_wrap_up(op, now - timedelta(seconds=30))
    elif view.state is d.OperatorState.PAUSED:
        acd.acd.unpause(op, now - timedelta(seconds=30))
    call_id = "sim-pop"
    async with container.session_factory() as s:
        s.add(calls.Call(id=call_id, site="primary", caller_number=number, caller_raw=number, audience="avocat",
                         received_at=now - timedelta(seconds=20)))
        await s.commit()
    acd.acd.enqueue(d.Call(call_id, "avocat", number, priority=1), now - timedelta(seconds=14))
    for _ in range(20):  # served first (priority); any other operator "declines" it
        offer = next((o for o in acd.acd.dispatch(now) if o.call_id == call_id), None)
        if offer is None or offer.operator_id == op:
            break
        acd.acd.ring_failed(call_id, offer.operator_id, now, "declined")
    acd.acd.ring_answered(call_id, op, now + timedelta(seconds=3))
    await acd.flush()
    info = {"number": number, "audience": "avocat", "at": now - timedelta(seconds=20)}
    await _ticket_for(container, call_id, info, int(op))
    async with container.session_factory() as s:
        ref = (await s.get(Ticket, (await s.get(calls.Call, call_id)).ticket_id)).reference
    hub._on_answered({"call_id": call_id, "operator_id": op, "caller": number, "audience": "avocat", "ticket": ref})
    return ref, requester.display_name


async def test_given_demo_day_then_wallboard_and_console_look_right(demo_center, browser, screenshot):
    container, clock = demo_center
    async with served(container) as base:
        wall = await open_as(browser, base, "superviseur", DEMO_PASSWORD, "/console/supervision", viewport=(1920, 1080))
        await expect(wall.locator("#direct")).to_have_attribute("data-status", "on")
        api = await (await wall.request.get(f"{base}/api/v1/console/wallboard")).json()
        t = api["total"]
        assert t["presented"] > 40 and t["answered"] > 30 and t["abandoned"] >= 1
        assert t["mails_waiting"] >= 5 and t["callbacks_pending"] >= 1  # 5 of today, and the demo's last ones
        await expect(wall.locator("#total-traites")).to_have_text(str(t["answered"]))
        await expect(wall.locator("#total-ns")).to_have_text(
            f"{round(t['service_level'] * 1000) / 10:g} %".replace(".", ","))
        await expect(wall.locator("#conseillers tr")).to_have_count(8)
        await expect(wall.locator("#graphe svg rect.b-ok").first).to_be_visible()

        op = await open_as(browser, base, "op01", DEMO_PASSWORD, "/console", viewport=(1440, 900))
        await expect(op.locator("#direct")).to_have_attribute("data-status", "on")
        ref, name = await _pop_call_for(container, "op01")
        await expect(op.locator("#appel-ticket")).to_have_text(ref, timeout=10_000)
        await expect(op.locator("#precedents tr")).not_to_have_count(0)
        await expect(op.locator("#courriels li")).to_have_count(t["mails_waiting"])
        await expect(op.locator("#courriels .badge-bad").first).to_be_visible()
        await op.select_option("#f-application", "tr-avocats-ta")
        await op.select_option("#f-type", "incident-dossier-invisible")
        await op.select_option("#f-severite", "2")
        await op.fill("#f-objet", "Dossier non visible dans Télérecours")
        await op.click("#btn-escalader")
        await expect(op.locator("#escalade-champs input")).to_have_count(2)
        await op.fill("#esc-numero_dossier", "2601234")
        await wall.wait_for_timeout(1200)
        await screenshot(wall, "supervision-journee-demo")
        await screenshot(op, "console-journee-demo")
        assert await accessibility_problems(wall) == []
        assert await accessibility_problems(op) == []
        await wall.context.close()
        await op.context.close()


async def test_given_ticket_form_then_escalation_needs_n2_fields_and_legal_follow_up_is_redirected(
        container, clock, browser, screenshot):
    clock.now = paris(10, 0)
    async with container.session_factory() as s:
        alice = await create_user(s, username="alice", password=PASSWORD, role="operator", sip_endpoint="alice",
                                  display_name="Alice Martin")
        await create_user(s, username="audit", password=PASSWORD, role="auditor")
        svc = await container.tickets(s)
        actor = actor_of(alice)
        escalate = await svc.create_ticket(channel="phone", audience="avocat", actor=actor, subject="Accès refusé")
        redirect = await svc.create_ticket(channel="phone", audience="citoyen", actor=actor, subject="Audience")
        for t in (escalate, redirect):
            t.assignee_id = alice.id
        await s.commit()
    await container.start_acd()
    async with served(container) as base:
        page = await open_as(browser, base, "alice", PASSWORD, "/console", viewport=(1440, 900))
        await expect(page.locator("#mes-tickets li")).to_have_count(2)
        await page.locator("#mes-tickets li", has_text=escalate.reference).get_by_role("button").click()
        await expect(page.locator("#appel-ticket")).to_have_text(escalate.reference)
        await page.click("#btn-escalader")
        await expect(page.locator("#message-ticket")).to_contain_text("type de demande")
        await page.select_option("#f-application", "tr-avocats-ta")
        await page.select_option("#f-type", "incident-acces")
        await page.select_option("#f-severite", "1")
        await expect(page.locator("#f-priorite")).to_have_text("P1 · critique")
        await page.click("#btn-escalader")
        await expect(page.locator("#escalade-champs input")).to_have_count(2)
        await page.fill("#esc-identifiant", "me.durand@barreau.fr")
        await page.click("#btn-confirmer-escalade")
        await expect(page.locator("#message-ticket")).to_contain_text("Message d'erreur affiché")
        await expect(page.locator("#esc-message_erreur")).to_have_attribute("aria-invalid", "true")
        await page.fill("#esc-message_erreur", "Erreur 403 à la connexion")
        await page.fill("#f-glpi", "GLPI-88412")
        await page.click("#btn-confirmer-escalade")
        await expect(page.locator("#message-ticket")).to_have_text(f"Ticket {escalate.reference} escaladé au N2.")

        await page.locator("#mes-tickets li", has_text=redirect.reference).get_by_role("button").click()
        await expect(page.locator("#appel-ticket")).to_have_text(redirect.reference)
        await page.select_option("#f-application", "tr-citoyens")
        await page.select_option("#f-type", "suivi-juridique")
        await expect(page.locator("#reorientation")).to_contain_text("Greffe de la juridiction")
        await expect(page.locator("#btn-resoudre")).to_be_hidden()
        await page.select_option("#f-severite", "3")
        await page.click("#btn-reorienter")
        await expect(page.locator("#message-ticket")).to_contain_text("réorienté vers Greffe de la juridiction")
        await screenshot(page, "console-reorientation")

        # An auditor reads Alice's console and the wallboard, and can act on nothing.
        audit = await open_as(browser, base, "audit", PASSWORD, f"/console?operateur={alice.id}")
        await expect(audit.locator(".subbar-title")).to_contain_text("lecture seule")
        await expect(audit.locator("#btn-pause")).to_have_count(0)
        await expect(audit.locator(".btn-act")).to_have_count(0)
        await audit.goto(f"{base}/console/supervision")
        await expect(audit.locator("#direct")).to_have_attribute("data-status", "on")
        await page.context.close()
        await audit.context.close()

    async with container.session_factory() as s:
        esc = await s.get(Ticket, escalate.id)
        red = await s.get(Ticket, redirect.id)
        assert (esc.status, esc.level, esc.priority, esc.glpi_reference) == ("escalated_n2", "N2", 1, "GLPI-88412")
        assert esc.escalation_info == {"identifiant": "me.durand@barreau.fr", "message_erreur": "Erreur 403 à la connexion"}
        rt = await s.get(RequestType, red.request_type_id)
        assert (red.status, red.resolved_by_level, rt.code) == ("resolved", "N1", "suivi-juridique")


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the browser tests need one database; the figures are tested on both


async def test_given_a_slow_work_answer_then_the_console_keeps_the_newer_live_state(container, clock, browser):
    """The console gets the operator's state from the live stream and from the work fetch;
    a fetch answered after a newer live event must not put the older state back (the
    operator would be stuck with disabled buttons)."""
    clock.now = paris(10, 0)
    async with container.session_factory() as s:
        bob = await create_user(s, username="bob", password=PASSWORD, role="operator", sip_endpoint="bob")
        await s.commit()
    acd = await container.start_acd()
    acd.acd.login(str(bob.id), clock.now)
    await acd.flush()
    async with served(container) as base:
        context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR",
                                            timezone_id="Europe/Paris")
        page = await context.new_page()

        async def late_and_stale(route):
            response = await route.fetch()
            body = await response.json()
            # held until the live stream has shown the current state, then answered with a
            # state computed earlier (an older "at")
            for _ in range(200):
                if await page.locator("#etat").get_attribute("data-state") == "available":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the live stream never showed the state")
            body["state"] = {**body["state"], "state": "on_call", "call_id": "ancien-appel",
                             "at": "2026-03-03T08:59:00+00:00"}
            await route.fulfill(response=response, json=body)

        await page.route("**/api/v1/console/operators/*/work", late_and_stale)
        await page.goto(f"{base}/console/connexion?suite=/console")
        await page.fill("#identifiant", "bob")
        await page.fill("#mot-de-passe", PASSWORD)
        async with page.expect_response(lambda r: r.url.endswith("/work")):
            await page.click("button[type=submit]")
        await page.wait_for_timeout(500)
        await expect(page.locator("#etat")).to_have_attribute("data-state", "available")
        await expect(page.locator("#btn-pause")).to_be_enabled()
        await context.close()
