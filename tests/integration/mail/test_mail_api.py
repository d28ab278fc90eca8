"""The mail routes on the real aiohttp application with the gateway running: an operator
answers by mail through the API (sent via the relay, threaded, journaled, taking the
ticket in charge), the ticket's mails are listed with sanitized HTML, attachments are
downloaded with their type kept and every read audited, supervisors get the raw message,
and the outbox retries a relay that refuses."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from accounts.services import create_user
from mailgw.models import MailAttachment
from tests.integration.mail.conftest import SUPPORT, events, mail, mails, send, tickets, wait_until
from ticket_core.models import AuditEntry

PASSWORD = "correct horse battery"


@pytest.fixture
async def tokens(container, client):
    async with container.session_factory() as s:
        for role in ("operator", "supervisor", "auditor"):
            await create_user(s, username=role, password=PASSWORD, role=role)
        await s.commit()
    out = {}
    for role in ("operator", "supervisor", "auditor"):
        r = await client.post("/api/v1/auth/login", json={"username": role, "password": PASSWORD})
        out[role] = {"Authorization": f"Bearer {(await r.json())['token']}"}
    client.session.cookie_jar.clear()
    return out


async def _audits(container, subject_type):
    async with container.session_factory() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.subject_type == subject_type)))


async def test_given_operator_reply_through_api_then_sent_via_relay_threaded_and_journaled(
        gateway, container, relay, client, tokens):
    await send(gateway, mail(message_id="<q-1@cabinet.fr>", headers={"References": "<older@cabinet.fr>"}))
    [ticket] = await tickets(container)
    await relay.wait_for(1)  # the acknowledgement
    r = await client.post(f"/api/v1/tickets/{ticket.reference}/mail-replies", headers=tokens["operator"],
                          json={"body": "Bonjour,\nréinitialisez votre mot de passe depuis la page de connexion."})
    body = await r.json()
    assert r.status == 202, body
    assert (body["kind"], body["status"], body["to"]) == ("reply", "pending", ["dupont@cabinet.fr"])
    captured = (await relay.wait_for(2))[1]
    msg = captured.message
    assert (captured.mail_from, captured.rcpt_tos) == (SUPPORT, ["dupont@cabinet.fr"])
    assert msg["Subject"] == f"Re: [{ticket.reference}] Connexion impossible"
    assert msg["In-Reply-To"] == "<q-1@cabinet.fr>"
    assert msg["References"].split() == ["<older@cabinet.fr>", "<q-1@cabinet.fr>"]
    assert msg["Message-ID"].endswith("@guichet.test>") and msg["Auto-Submitted"] is None
    assert "réinitialisez votre mot de passe" in msg.get_content() and ticket.reference in msg.get_content()
    sent = await wait_until(lambda: _sent_replies(container), what="reply journaled")
    assert sent[0].ticket_id == ticket.id and sent[0].operator_id is not None
    assert sent[0].data["message_id"] == msg["Message-ID"]
    [after] = await tickets(container)
    assert after.taken_in_charge_at is not None  # the operator's first action (T2-IQ05)
    [taken] = await events(container, "ticket_taken_in_charge")
    assert taken.operator_id == sent[0].operator_id
    # The user answers the reply: it joins the ticket by In-Reply-To.
    await send(gateway, mail(subject="Re: ça marche", headers={"In-Reply-To": msg["Message-ID"]}))
    assert len(await tickets(container)) == 1


async def _sent_replies(container):
    return [e for e in await events(container, "mail_sent") if e.data["kind"] == "reply"]


async def test_given_reply_to_unknown_address_then_refused(gateway, container, client, tokens, relay):
    await send(gateway, mail())
    [ticket] = await tickets(container)
    r = await client.post(f"/api/v1/tickets/{ticket.reference}/mail-replies", headers=tokens["operator"],
                          json={"body": "spam", "to": "quelquun@ailleurs.org"})
    assert (r.status, (await r.json())["error"]) == (422, "recipient_not_allowed")
    r = await client.post(f"/api/v1/tickets/{ticket.reference}/mail-replies", headers=tokens["auditor"],
                          json={"body": "x"})
    assert r.status == 403
    r = await client.post("/api/v1/tickets", headers=tokens["operator"], json={"channel": "phone"})
    phone_ref = (await r.json())["reference"]
    r = await client.post(f"/api/v1/tickets/{phone_ref}/mail-replies", headers=tokens["operator"], json={"body": "x"})
    assert (r.status, (await r.json())["error"]) == (422, "no_recipient")


async def test_given_ticket_mails_when_listed_then_html_is_sanitized_and_read_is_audited(gateway, container, client,
                                                                                           tokens, relay):
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "avocat@cabinet.fr", SUPPORT, "HTML"
    msg.set_content("texte")
    msg.add_alternative("<p onclick='x()'>Bonjour</p><script>steal()</script>", subtype="html")
    await send(gateway, msg.as_bytes())
    [ticket] = await tickets(container)
    await relay.wait_for(1)
    await wait_until(lambda: events(container, "mail_sent"), what="ack sent")
    r = await client.get(f"/api/v1/tickets/{ticket.reference}/mails", headers=tokens["auditor"])
    items = (await r.json())["items"]
    assert r.status == 200 and [(m["direction"], m["kind"]) for m in items] == [("in", "mail"), ("out", "ack")]
    assert items[0]["html"].strip() == "<p>Bonjour</p>" and "html_raw" not in items[0]
    assert items[1]["status"] == "sent"
    [audit] = await _audits(container, "ticket_mails")
    assert (audit.username, audit.subject_id) == ("auditor", ticket.reference)


async def test_given_attachment_when_downloaded_then_type_kept_as_file_and_audited(gateway, container, client, tokens,
                                                                                   relay):
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "avocat@cabinet.fr", SUPPORT, "Pièce"
    msg.set_content("ci-joint")
    pdf = b"%PDF-1.4 acte " + bytes(range(256))
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="acte de procédure.pdf")
    msg.add_attachment("<script>alert(1)</script>", subtype="html", filename="page.html")
    await send(gateway, msg.as_bytes())
    [stored] = await mails(container, "in")
    async with container.session_factory() as s:
        atts = list(await s.scalars(select(MailAttachment).order_by(MailAttachment.position)))
    r = await client.get(f"/api/v1/mails/{stored.id}/attachments/{atts[0].id}", headers=tokens["operator"])
    assert r.status == 200 and await r.read() == pdf
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "acte%20de%20proc%C3%A9dure.pdf" in r.headers["Content-Disposition"]
    r = await client.get(f"/api/v1/mails/{stored.id}/attachments/{atts[1].id}", headers=tokens["operator"])
    assert r.headers["Content-Type"].startswith("text/html") and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment;")  # never rendered inline
    # The files are a cache: a lost one is rebuilt from the raw message.
    gateway.service.store.path(atts[0].sha256).unlink()
    r = await client.get(f"/api/v1/mails/{stored.id}/attachments/{atts[0].id}", headers=tokens["auditor"])
    assert r.status == 200 and await r.read() == pdf
    audits = await _audits(container, "mail_attachment")
    assert [(a.username, a.subject_id) for a in audits] == [
        ("operator", str(atts[0].id)), ("operator", str(atts[1].id)), ("auditor", str(atts[0].id))]
    r = await client.get(f"/api/v1/mails/{stored.id}/attachments/99999", headers=tokens["operator"])
    assert (r.status, (await r.json())["error"]) == (404, "attachment_not_found")


async def test_given_raw_message_then_supervisors_only_and_audited(gateway, container, client, tokens, relay):
    raw = mail()
    await send(gateway, raw)
    [stored] = await mails(container, "in")
    r = await client.get(f"/api/v1/mails/{stored.id}/raw", headers=tokens["operator"])
    assert r.status == 403
    r = await client.get(f"/api/v1/mails/{stored.id}/raw", headers=tokens["supervisor"])
    assert r.status == 200 and await r.read() == raw and r.headers["Content-Type"] == "message/rfc822"
    [audit] = await _audits(container, "mail_raw")
    assert (audit.username, audit.subject_id) == ("supervisor", str(stored.id))


async def test_given_relay_refuses_temporarily_then_the_mail_is_retried_and_sent_once(gateway, container, relay, clock):
    relay.refuse = "451 4.3.0 try again later"
    await send(gateway, mail())
    [ack] = await wait_until(lambda: _with_attempts(container), what="a refused attempt")
    assert (ack.status, ack.last_error.startswith("451")) == ("pending", True)
    assert await events(container, "mail_sent") == []
    relay.refuse = None
    clock.advance(seconds=5)  # past the retry delay
    gateway.outbox.wake()
    await relay.wait_for(1)
    [sent] = await wait_until(lambda: events(container, "mail_sent"), what="mail_sent")
    [ack] = await mails(container, "out")
    assert (ack.status, ack.attempts, len(relay.messages)) == ("sent", 2, 1)


async def _with_attempts(container):
    return [m for m in await mails(container, "out") if m.attempts >= 1 and m.status == "pending"]


async def test_given_relay_refuses_permanently_then_reply_failed_and_ticket_needs_attention(
        gateway, container, relay, client, tokens):
    await send(gateway, mail())
    [ticket] = await tickets(container)
    await relay.wait_for(1)
    relay.refuse = "554 5.7.1 rejected"
    r = await client.post(f"/api/v1/tickets/{ticket.reference}/mail-replies", headers=tokens["operator"],
                          json={"body": "réponse"})
    assert r.status == 202
    reply = await wait_until(lambda: _failed(container), what="reply failed")
    assert reply[0].last_error.startswith("554")
    [after] = await tickets(container)
    assert after.needs_attention
    assert len(await events(container, "mail_sent")) == 1  # the acknowledgement only


async def _failed(container):
    return [m for m in await mails(container, "out") if m.status == "failed"]
