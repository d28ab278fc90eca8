"""A supervisor watches the wallboard and an operator works in the console, in headless
Chromium, while real calls go through the real Asterisk, the Stasis application and the
ACD to a pjsua2 softphone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from accounts.services import create_user
from tests.browser.console.conftest import PASSWORD, open_as, served
from tests.support.sip_peers import Answer
from ticket_core.models import RequestType, Ticket

pytestmark = pytest.mark.asterisk

SUPPORT = "3900"


async def test_given_call_then_wallboard_moves_and_console_pops_the_ticket_form(call_center, sip_peers, browser,
                                                                                  screenshot):
    cc = call_center
    container = cc.container
    async with container.session_factory() as s:
        await create_user(s, username="sup", password=PASSWORD, role="supervisor", display_name="Sophie Superviseuse")
        svc = await container.tickets(s)
        requester = await svc.find_or_create_requester(phone="0612345678", audience="avocat",
                                                       display_name="Maître Durand")
        old = await svc.create_ticket(channel="mail", audience="avocat", requester_id=requester.id,
                                      subject="Mot de passe oublié")
        await s.commit()
    await sip_peers.operator("op1", cc.secret("op1"), behavior=Answer(after=1.0))
    async with served(container) as base:
        wall = await open_as(browser, base, "sup", PASSWORD, "/console/supervision", viewport=(1920, 1080))
        op = await open_as(browser, base, "agent-op1", PASSWORD, "/console", viewport=(1440, 960))
        await expect(wall.locator("#direct")).to_have_attribute("data-status", "on")
        await expect(op.locator("#direct")).to_have_attribute("data-status", "on")
        await expect(wall.locator("#total-attente")).to_have_text("0")
        await expect(wall.locator("#total-ns")).to_have_text("—")

        # The operator starts the service, then pauses: a caller will wait.
        await op.click("#btn-disponible")
        await expect(op.locator("#etat")).to_have_attribute("data-state", "available")
        await op.select_option("#motif-pause", "formation")
        await op.click("#btn-pause")
        await expect(op.locator("#etat")).to_have_text("En pause · Formation")
        op1 = cc.operators["op1"]
        await expect(wall.locator(f"tr[data-conseiller='{op1}'] .state")).to_have_attribute("data-state", "paused")

        caller = await sip_peers.caller("0612345678")
        call = await caller.dial(SUPPORT, dtmf=[(0.5, "1")])
        await call.wait_answered()
        # The waiting count rises, on the wallboard and in the console's queue strip.
        await expect(wall.locator("#total-attente")).to_have_text("1", timeout=15_000)
        await expect(wall.locator("tr[data-file=avocat] td").nth(1)).to_have_text("1")
        await expect(op.locator("#files li[data-file=avocat] strong")).to_have_text("1")
        await expect(wall.locator(".alert[data-kind=no_operator]")).to_have_count(1)

        # Back to available: the ACD offers the call, the softphone answers, both legs are bridged.
        await op.click("#btn-disponible")
        await expect(wall.locator("#total-attente")).to_have_text("0", timeout=15_000)
        await expect(wall.locator("#total-ns")).to_have_text("100 %")
        await expect(op.locator("#etat")).to_have_attribute("data-state", "on_call")
        # The console pops the ticket form at once: number, audience, previous tickets.
        await expect(op.locator("#fiche")).to_be_visible(timeout=10_000)
        await expect(op.locator("#appel-numero")).to_have_text("06 12 34 56 78")
        await expect(op.locator("#appel-public")).to_have_text("Avocat (cabinet)")
        await expect(op.locator("#demandeur-nom")).to_have_text("Maître Durand")
        await expect(op.locator("#precedents")).to_contain_text(old.reference)
        ticket_ref = (await op.locator("#appel-ticket").text_content()).strip()
        assert ticket_ref.startswith("GU-")

        # Qualify: the priority follows the catalogue's matrix as the operator chooses.
        await op.select_option("#f-application", "tr-avocats-ta")
        await op.select_option("#f-composant", "depot")  # high criticality
        await expect(op.locator("#f-criticite")).to_have_value("1")
        await op.select_option("#f-type", "connexion")
        await op.select_option("#f-severite", "3")
        await expect(op.locator("#f-priorite")).to_have_text("P3 · normale")
        await op.select_option("#f-severite", "2")
        await expect(op.locator("#f-priorite")).to_have_text("P2 · critique")
        await op.fill("#f-objet", "Mot de passe bloqué")
        await op.fill("#f-description", "Réinitialisation guidée, l'usager s'est reconnecté.")
        await screenshot(op, "console-appel-reel")
        await screenshot(wall, "supervision-appel-reel")
        await op.click("#btn-resoudre")
        await expect(op.locator("#message-ticket")).to_have_text(f"Ticket {ticket_ref} résolu.")
        await call.hangup()
        try:
            await expect(op.locator("#etat")).to_have_attribute("data-state", "available", timeout=15_000)
        except AssertionError as exc:  # say where it stuck: the journal, the ACD, the hub
            raise AssertionError(f"{exc}\njournal: {[e.kind for e in await cc.facts()][-6:]}\n"
                                 f"ACD: {cc.acd.acd.snapshot(container.clock())['operators']}\n"
                                 f"hub: {container.extras['console'].snapshot}") from None
        await expect(op.locator("#titre-appel")).to_have_text("Appel terminé")

        # A second caller hangs up while the operator is paused: the day's figures move.
        await op.click("#btn-pause")
        await expect(op.locator("#etat")).to_have_attribute("data-state", "paused")
        caller2 = await sip_peers.caller("0145678901")
        call2 = await caller2.dial(SUPPORT, dtmf=[(0.3, "1")], hangup_after=7.0)
        await expect(wall.locator("#total-attente")).to_have_text("1", timeout=15_000)
        await call2.wait_ended(timeout=20)
        await expect(wall.locator("#total-attente")).to_have_text("0", timeout=10_000)
        await expect(wall.locator("#total-ns")).to_have_text("50 %")
        await expect(wall.locator("#total-abandon")).to_have_text("50 %")
        await expect(wall.locator("#kpi-ns")).to_have_attribute("data-level", "bad")
        await expect(wall.locator(".alert[data-kind=abandonment]").first).to_be_visible()
        await expect(wall.locator("#total-rappels")).to_have_text("1")  # the lost call is to be called back
        await expect(op.locator("#rappels li")).to_have_count(1)
        await expect(op.locator("#rappels")).to_contain_text("01 45 67 89 01")
        await screenshot(wall, "supervision-apres-abandon")
        await screenshot(op, "console-apres-abandon")
        await wall.context.close()
        await op.context.close()

    async with container.session_factory() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.reference == ticket_ref))
        rtype = await s.get(RequestType, ticket.request_type_id)
        assert (ticket.status, rtype.code, ticket.priority, ticket.subject) == (
            "resolved", "connexion", 2, "Mot de passe bloqué")
        assert ticket.assignee_id == cc.operators["op1"]
