"""The console's routes, pages and live stream on one instance: roles (operators see their
own work, supervisors everything, auditors read only), the call pop-up's context, the mail
queue's remaining business time, taking a mail in charge, and live pushes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from yarl import URL

from telephony import models as calls
from tests.integration.console.conftest import Events, login, make_users, paris
from ticket_core.models import AuditEntry, Ticket

pytestmark = pytest.mark.usefixtures("console_mounted")


@pytest.fixture
async def people(container):
    return await make_users(container, ("alice", "operator"), ("bruno", "operator"), ("sup", "supervisor"),
                            ("audit", "auditor"))


async def _bridged_call(container, operator_id: int, number: str = "+33612345678") -> tuple[str, str]:
    """A call answered by ``operator_id`` with its ticket, as the Stasis app leaves it."""
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        requester = await svc.find_or_create_requester(phone=number, audience="avocat")
        old = await svc.create_ticket(channel="mail", audience="avocat", requester_id=requester.id, subject="Ancienne")
        ticket = await svc.create_ticket(channel="phone", audience="avocat", requester_id=requester.id,
                                         source_ref="call:call-1")
        ticket.assignee_id = operator_id
        now = container.clock()
        s.add(calls.Call(id="call-1", site="primary", caller_number=number, caller_raw="0612345678",
                         audience="avocat", received_at=now, presented_at=now, answered_at=now, wait_seconds=12.0,
                         outcome=calls.ANSWERED, operator_id=operator_id, ticket_id=ticket.id,
                         requester_id=requester.id))
        await s.commit()
        return ticket.reference, old.reference


async def test_given_roles_then_each_sees_what_it_may(container, app_client, people):
    c = app_client
    alice, bruno = people["alice"], people["bruno"]
    h = {name: await login(c, name) for name in ("alice", "sup", "audit")}
    assert (await c.get("/api/v1/console/wallboard", headers=h["alice"])).status == 403
    for who in ("sup", "audit"):
        r = await c.get("/api/v1/console/wallboard", headers=h[who])
        assert r.status == 200 and "queues" in await r.json()
    assert (await c.get(f"/api/v1/console/operators/{bruno.id}/work", headers=h["alice"])).status == 403
    r = await c.get(f"/api/v1/console/operators/{alice.id}/work", headers=h["alice"])
    assert r.status == 200 and (await r.json())["state"]["state"] == "logged_out"
    for who in ("sup", "audit"):
        assert (await c.get(f"/api/v1/console/operators/{alice.id}/work", headers=h[who])).status == 200
    ticket_ref, _ = await _bridged_call(container, bruno.id)
    assert (await c.get("/api/v1/console/calls/call-1", headers=h["alice"])).status == 403  # Bruno's call
    assert (await c.get("/api/v1/console/calls/call-1", headers=h["audit"])).status == 200
    # Auditors read, never act: no take, no qualification, no state change.
    assert (await c.post(f"/api/v1/console/tickets/{ticket_ref}/take", headers=h["audit"])).status == 403
    r = await c.patch(f"/api/v1/tickets/{ticket_ref}/qualification", headers=h["audit"], json={"severity": 2})
    assert r.status == 403
    r = await c.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h["audit"], json={"action": "login"})
    assert r.status == 403
    assert (await c.get("/api/v1/console/mail-queue")).status == 401
    # Every console route declares its roles in the OpenAPI document.
    doc = await (await c.get("/api/openapi.json")).json()
    console_ops = [op for path, ops in doc["paths"].items() if path.startswith("/api/v1/console") for op in ops.values()]
    assert len(console_ops) == 6 and all(op.get("x-roles") for op in console_ops)


async def test_given_pages_then_login_redirects_and_roles_are_enforced(container, app_client, people):
    c = app_client
    r = await c.get("/console/supervision", allow_redirects=False)
    assert r.status == 303
    location = URL(r.headers["Location"])
    assert (location.path, location.query["suite"]) == ("/console/connexion", "/console/supervision")
    r = await c.get("/console/connexion?suite=/console/supervision")
    html = await r.text()
    assert r.status == 200 and 'lang="fr"' in html and "Se connecter" in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    await c.post("/api/v1/auth/login", json={"username": "alice", "password": "correct horse battery"})
    r = await c.get("/console/supervision")
    assert r.status == 403 and "réservé" in await r.text()
    r = await c.get("/console")
    assert r.status == 200 and f'data-operateur="{people["alice"].id}"' in await r.text()
    r = await c.get(f"/console?operateur={people['bruno'].id}")
    assert r.status == 403
    c.session.cookie_jar.clear()
    await c.post("/api/v1/auth/login", json={"username": "audit", "password": "correct horse battery"})
    assert (await c.get("/console/supervision")).status == 200
    r = await c.get(f"/console?operateur={people['alice'].id}")
    html = await r.text()
    assert r.status == 200 and 'data-agir="non"' in html and 'id="btn-pause"' not in html
    r = await c.get("/static/console/console.css")
    assert r.status == 200


async def test_given_call_bridged_then_context_has_number_requester_and_previous_tickets(container, app_client, people):
    c = app_client
    alice = people["alice"]
    ref, old_ref = await _bridged_call(container, alice.id)
    h = await login(c, "alice")
    r = await c.get("/api/v1/console/calls/call-1", headers=h)
    ctx = await r.json()
    assert r.status == 200, ctx
    assert (ctx["call"]["caller_number"], ctx["call"]["audience"], ctx["call"]["wait_seconds"]) == (
        "+33612345678", "avocat", 12.0)
    assert ctx["ticket"]["reference"] == ref and "resolve" in ctx["ticket"]["allowed_actions"]
    assert ctx["requester"]["phones"] == ["+33612345678"]
    assert [t["reference"] for t in ctx["previous_tickets"]] == [old_ref]
    # Reading the number is traced.
    async with container.session_factory() as s:
        entries = list(await s.scalars(select(AuditEntry).where(AuditEntry.subject_type == "call")))
    assert [(e.username, e.subject_id) for e in entries] == [("alice", "call-1")]
    # The ticket form: labels and the fields N2 needs follow the qualification.
    await c.patch(f"/api/v1/tickets/{ref}/qualification", headers=h,
                  json={"application": "tr-avocats-ta", "component": "depot", "request_type": "incident-acces",
                        "severity": 2})
    ctx = await (await c.get(f"/api/v1/console/tickets/{ref}", headers=h)).json()
    t = ctx["ticket"]
    assert (t["application_label"], t["component_label"], t["criticality"], t["priority"]) == (
        "Télérecours-avocats TA", "Dépôt de pièces", 1, 2)
    assert t["escalation_fields"] == ["identifiant", "message_erreur"] and t["redirect_to"] is None
    r = await c.post(f"/api/v1/tickets/{ref}/actions", headers=h, json={"action": "escalate",
                                                                         "escalation_info": {"identifiant": "me.dupont"}})
    assert (r.status, (await r.json())["field"]) == (422, "message_erreur")


async def test_given_mails_then_queue_shows_business_time_left_and_take_stops_the_clock(container, clock, app_client, people):
    c = app_client
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        requester = await svc.find_or_create_requester(email="usager@example.fr", audience="citoyen")
        clock.now = paris(2026, 3, 3, 17, 10)  # Tuesday: 20 min today + 40 min tomorrow
        evening = await svc.create_ticket(channel="mail", audience="citoyen", requester_id=requester.id,
                                          subject="Accès impossible")
        clock.now = paris(2026, 3, 3, 15, 0)
        earlier = await svc.create_ticket(channel="mail", subject="Dossier")
        await s.commit()
    clock.now = paris(2026, 3, 3, 17, 20)
    h = await login(c, "alice")
    q = await (await c.get("/api/v1/console/mail-queue", headers=h)).json()
    assert [m["reference"] for m in q["items"]] == [earlier.reference, evening.reference]  # most urgent first
    assert (q["items"][0]["late"], q["items"][0]["remaining_seconds"]) == (True, -80 * 60.0)  # due 16:00
    assert (q["items"][1]["remaining_seconds"], q["items"][1]["from"]) == (50 * 60.0, "usager@example.fr")
    assert q["clock_running"] is True
    clock.now = paris(2026, 3, 3, 18, 0)  # closed: the clock stands still at 40 min
    q = await (await c.get("/api/v1/console/mail-queue", headers=h)).json()
    assert (q["items"][1]["remaining_seconds"], q["clock_running"]) == (40 * 60.0, False)
    r = await c.post(f"/api/v1/console/tickets/{evening.reference}/take", headers=h)
    assert r.status == 200 and (await r.json())["ticket"]["status"] == "in_progress"
    async with container.session_factory() as s:
        t = await s.scalar(select(Ticket).where(Ticket.id == evening.id))
        assert (t.assignee_id, t.taken_in_charge_at) == (people["alice"].id, clock.now)
    q = await (await c.get("/api/v1/console/mail-queue", headers=h)).json()
    assert [m["reference"] for m in q["items"]] == [earlier.reference]


async def test_given_live_streams_then_roles_apply_and_events_reach_the_right_browser(container, app_client, people):
    c = app_client
    alice, bruno = people["alice"], people["bruno"]
    h = {name: await login(c, name) for name in ("alice", "bruno", "sup")}
    assert (await c.get("/api/v1/console/live?vue=supervision")).status == 401
    assert (await c.get("/api/v1/console/live?vue=supervision", headers=h["alice"])).status == 403
    r = await c.get(f"/api/v1/console/live?vue=console&operateur={bruno.id}", headers=h["alice"])
    assert r.status == 403
    assert (await c.get("/api/v1/console/live?vue=console", headers=h["sup"])).status == 422
    wall = Events(await c.get("/api/v1/console/live?vue=supervision", headers=h["sup"]))
    first = await wall.next("tableau")
    assert first["total"]["waiting"] == 0 and first["live"]["ok"] is True
    mine = Events(await c.get("/api/v1/console/live?vue=console", headers=h["alice"]))
    other = Events(await c.get("/api/v1/console/live?vue=console", headers=h["bruno"]))
    assert (await mine.next("etat"))["state"] == "logged_out"
    await other.next("etat")
    r = await c.post(f"/api/v1/acd/operators/{alice.id}/state", headers=h["alice"], json={"action": "login"})
    assert r.status == 200
    state = await mine.next("etat", lambda d: d["state"] == "available")
    assert state["since"] is not None
    board = await wall.next("tableau", lambda d: any(o["state"] == "available" for o in d["operators"]))
    assert board["trigger"]["k"] == ["OperatorStateChanged"]
    # The Stasis app bridges a call to Alice: only Alice's console pops.
    hub = container.extras["console"]
    hub._on_answered({"call_id": "call-9", "operator_id": alice.id, "caller": "0612345678", "audience": "avocat",
                      "ticket": "GU-2026-000001"})
    pop = await mine.next("appel")
    assert pop == {"call_id": "call-9", "ticket": "GU-2026-000001", "audience": "avocat"}  # no number pushed
    with pytest.raises(asyncio.TimeoutError):
        await other.next("appel", timeout=0.5)
    # A mail taken in charge: the consoles are told their work changed.
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        mail = await svc.create_ticket(channel="mail", subject="Bonjour")
        await s.commit()
    hub.work_changed()
    await mine.next("travail", lambda d: d["signature"] is not None)
    await asyncio.sleep(0.2)
    before = hub.work_signature
    r = await c.post(f"/api/v1/console/tickets/{mail.reference}/take", headers=h["bruno"])
    assert r.status == 200
    await mine.next("travail", lambda d: d["signature"] != before)
