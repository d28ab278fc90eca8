"""The SMTP intake with real SMTP clients against the running gateway, on SQLite and
PostgreSQL: every mail becomes a ticket (or joins its ticket), its raw bytes are kept,
its acknowledgement leaves through the relay, and nothing accepted is ever lost."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy

import pytest

from mailgw.models import MailMessage
from tests.integration.mail.conftest import SUPPORT, events, mail, mails, send, tickets, wait_until


async def test_given_plain_text_mail_when_received_then_ticket_journal_and_acknowledgement(gateway, container, relay, clock):
    raw = mail(message_id="<first-1@cabinet.fr>")
    code, text = await send(gateway, raw)
    [ticket] = await tickets(container)
    assert (code, ticket.reference in text) == (250, True)
    assert (ticket.channel, ticket.subject, ticket.status) == ("mail", "Connexion impossible", "new")
    assert "je ne peux pas me connecter" in ticket.description
    assert ticket.created_at == clock.now  # the receipt time
    # Tuesday 10:00 Paris + 1 business hour.
    assert ticket.taken_in_charge_due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    [stored] = await mails(container, "in")
    assert stored.raw == raw and stored.ticket_id == ticket.id and stored.ack_status == "queued"
    [received] = await events(container, "mail_received")
    assert received.ticket_id == ticket.id and received.channel == "mail"
    assert received.data["message_id"] == "<first-1@cabinet.fr>"
    assert (received.data["size"], received.data["from_domain"]) == (len(raw), "cabinet.fr")
    assert "dupont" not in str(received.data).lower()  # ids only in the journal
    [ack] = await relay.wait_for(1)
    assert (ack.mail_from, ack.rcpt_tos) == ("<>", ["dupont@cabinet.fr"])
    msg = ack.message
    assert ticket.reference in msg["Subject"] and "Accusé de réception" in msg["Subject"]
    assert msg["In-Reply-To"] == "<first-1@cabinet.fr>" and msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].addresses[0].addr_spec == SUPPORT
    assert "Nous avons bien reçu votre message" in msg.get_content() and ticket.reference in msg.get_content()
    [sent] = await wait_until(lambda: events(container, "mail_sent"), what="mail_sent")
    assert sent.ticket_id == ticket.id and sent.data["kind"] == "ack"
    assert sent.data["message_id"] == msg["Message-ID"]


async def test_given_new_sender_then_requester_is_created_with_address_and_name(gateway, container):
    await send(gateway, mail(sender="=?utf-8?q?Ma=C3=AEtre_Dupont?= <Dupont@Cabinet.FR>"))
    from ticket_core.models import Requester

    [ticket] = await tickets(container)
    async with container.session_factory() as s:
        requester = await s.get(Requester, ticket.requester_id)
        assert [e.address for e in requester.emails] == ["dupont@cabinet.fr"]
        assert requester.display_name == "Maître Dupont"
    await send(gateway, mail(subject="Autre question"))
    second = (await tickets(container))[1]
    assert second.requester_id == ticket.requester_id  # found, not created again


async def test_given_multipart_alternative_then_text_is_kept_and_html_sanitized(gateway, container):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "avocat@cabinet.fr", SUPPORT, "Dépôt de requête"
    msg["Message-ID"] = "<alt-1@cabinet.fr>"
    msg.set_content("Version texte : le dépôt échoue.")
    msg.add_alternative("<p>Version <b>HTML</b> : le dépôt échoue.</p><script>alert('x')</script>", subtype="html")
    code, _ = await send(gateway, msg.as_bytes())
    [stored] = await mails(container, "in")
    assert code == 250
    assert stored.text_body.strip() == "Version texte : le dépôt échoue."
    assert "<script>" in stored.html_raw  # kept as received…
    assert stored.html_sanitized.strip() == "<p>Version <b>HTML</b> : le dépôt échoue.</p>"  # …shown sanitized
    [ticket] = await tickets(container)
    assert ticket.description.strip() == "Version texte : le dépôt échoue."


async def test_given_html_only_mail_then_script_is_gone_and_text_is_derived(gateway, container):
    raw = (
        "From: citoyen@exemple.fr\r\nTo: support@support.test\r\nSubject: Aide\r\n"
        "Message-ID: <html-1@exemple.fr>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>Bonjour,</p><p>Mon <a href=\"javascript:alert(1)\">dossier</a> n'apparaît pas.</p>"
        "<img src=x onerror=alert(1)><script>document.cookie</script><style>p{color:red}</style></body></html>\r\n"
    )
    await send(gateway, raw.encode())
    [stored] = await mails(container, "in")
    for forbidden in ("<script", "document.cookie", "onerror", "javascript:", "<style", "color:red"):
        assert forbidden not in stored.html_sanitized
    assert "<p>Bonjour,</p>" in stored.html_sanitized
    assert stored.text_body == "Bonjour,\nMon dossier n'apparaît pas."
    [ticket] = await tickets(container)
    assert "document.cookie" not in ticket.description and "Mon dossier n'apparaît pas." in ticket.description


@pytest.mark.parametrize(("charset", "body", "subject"), [
    ("iso-8859-1", "Réf. : dossier n° 12, délai dépassé", "Délai"),
    ("windows-1252", "L’audience “urgente” coûte 10 € – merci", "Œuvre"),
    ("iso-8859-15", "Le dossier coûte 15 € et l'œuvre est là", "Cœur"),
])
async def test_given_non_utf8_charset_then_text_is_decoded(gateway, container, charset, body, subject):
    raw = (f"From: =?{charset}?q?Fran=E7ois?= <francois@exemple.fr>\r\nTo: {SUPPORT}\r\n"
           f"Subject: {subject}\r\nMessage-ID: <cs-{charset}@exemple.fr>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           f"{body}\r\n").encode(charset)
    code, _ = await send(gateway, raw)
    [stored] = await mails(container, "in")
    assert code == 250
    assert (stored.text_body.strip(), stored.subject, stored.from_name) == (body, subject, "François")
    assert stored.raw == raw and not stored.needs_attention


async def test_given_rfc2047_encoded_subject_and_from_name_then_they_are_decoded(gateway, container):
    raw = (b"From: =?utf-8?b?w4lsb2TDr2UgTMOpdnk=?= <elodie@exemple.fr>\r\nTo: support@support.test\r\n"
           b"Subject: =?iso-8859-1?q?Probl=E8me_d'acc=E8s?= =?utf-8?q?_=E2=80=94_urgent?=\r\n"
           b"Message-ID: <enc-1@exemple.fr>\r\n\r\nCorps.\r\n")
    await send(gateway, raw)
    [stored] = await mails(container, "in")
    assert (stored.subject, stored.from_name) == ("Problème d'accès — urgent", "Élodïe Lévy")
    [ticket] = await tickets(container)
    assert ticket.subject == "Problème d'accès — urgent"


async def test_given_oversized_message_then_552_and_nothing_stored(container, mail_settings, relay):
    from email.message import EmailMessage

    from mailgw.runtime import MailGateway
    from ticket_core.models import JournalEvent, Ticket
    from tests.integration.mail.conftest import count

    small = mail_settings.model_copy(update={"max_message_size": 64 * 1024})
    gateway = await MailGateway(container, small).start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "dupont@cabinet.fr", SUPPORT, "Pièce trop lourde"
        msg.set_content("Voici le mémoire.")
        msg.add_attachment(b"%PDF" + bytes(200 * 1024), maintype="application", subtype="pdf", filename="memoire.pdf")
        code, text = await send(gateway, msg.as_bytes(policy=policy.SMTP))
        assert code == 552, text
        code, text = await send(gateway, msg.as_bytes())  # bare LF: one endless "line", same answer
        assert code == 552, text
        # Declared with SIZE: refused at MAIL FROM already.
        code, _ = await send(gateway, b"Subject: x\r\n\r\nx\r\n", mail_options=["SIZE=999999999"])
        assert code == 552
        assert (await count(container, MailMessage), await count(container, Ticket)) == (0, 0)
        assert await count(container, JournalEvent) == 0
        code, _ = await send(gateway, mail())  # a normal mail still goes through
        assert code == 250
    finally:
        await gateway.stop()


async def test_given_truncated_mime_then_ticket_needs_attention_and_raw_is_kept(gateway, container, relay):
    raw = (b"From: dupont@cabinet.fr\r\nTo: support@support.test\r\nSubject: Pieces jointes\r\n"
           b"Message-ID: <trunc-1@cabinet.fr>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nVoir la piece jointe.\r\n--XYZ\r\n"
           b"Content-Type: application/pdf; name=\"acte.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5n")  # cut in the middle, no closing boundary
    code, _ = await send(gateway, raw)
    [ticket] = await tickets(container)
    [stored] = await mails(container, "in")
    assert code == 250
    assert ticket.needs_attention and stored.needs_attention
    assert "defect:CloseBoundaryNotFoundDefect" in stored.problems
    assert stored.raw == raw + b"\r\n" and ticket.subject == "Pieces jointes"  # smtplib ends the last line
    assert stored.ack_status == "no_address"  # nothing automatic answers a mail we could not read
    [received] = await events(container, "mail_received")
    assert received.data["needs_attention"] is True


@pytest.mark.parametrize("raw", [
    b"\x00\x01garbage that is not a mail at all \xff\xfe\r\n",
    b"From: dupont@cabinet.fr\r\nSubject: Sans frontiere\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n",
    b"From: =?utf-8?q?nobody?=\r\nSubject: =?x-unknown?q?abc?=\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nh\xe9\r\n",
], ids=["no-headers", "multipart-without-boundary", "no-sender-unknown-charset"])
async def test_given_malformed_mime_then_ticket_needs_attention_and_raw_is_kept(gateway, container, relay, raw):
    code, _ = await send(gateway, raw)
    [ticket] = await tickets(container)
    [stored] = await mails(container, "in")
    assert code == 250
    assert ticket.needs_attention and ticket.channel == "mail"
    assert stored.raw.rstrip(b"\r\n") == raw.rstrip(b"\r\n")
    assert len(await events(container, "mail_received")) == 1
    assert stored.ack_status in ("no_address",)


async def test_given_reply_with_reference_in_subject_then_it_joins_the_ticket(gateway, container, relay):
    await send(gateway, mail())
    [ticket] = await tickets(container)
    code, text = await send(gateway, mail(subject=f"RE: [{ticket.reference}] Connexion impossible",
                                          body="Voici mon identifiant : cab-77", sender="collegue@cabinet.fr"))
    assert code == 250 and ticket.reference in text
    [same] = await tickets(container)
    assert same.id == ticket.id and same.contacts == 2
    second = (await mails(container, "in"))[1]
    assert second.ticket_id == ticket.id and second.ack_status == "threaded"
    from ticket_core.models import TicketHistory
    from sqlalchemy import select

    async with container.session_factory() as s:
        notes = [h.note for h in await s.scalars(select(TicketHistory).where(
            TicketHistory.ticket_id == ticket.id, TicketHistory.action == "note"))]
    assert any("cab-77" in n and "collegue@cabinet.fr" in n for n in notes)
    assert len(await relay.wait_for(1)) == 1  # one acknowledgement: the first mail only
    [first, joined] = await events(container, "mail_received")
    assert (first.data["threaded"], joined.data["threaded"], joined.ticket_id) == (False, True, ticket.id)


async def test_given_reply_to_our_acknowledgement_then_it_joins_by_in_reply_to(gateway, container, relay):
    await send(gateway, mail(message_id="<orig-1@cabinet.fr>"))
    [ack] = await relay.wait_for(1)
    ack_id = ack.message["Message-ID"]
    code, _ = await send(gateway, mail(subject="Re: votre accusé", body="Merci, précision : TA Lyon", headers={
        "In-Reply-To": ack_id, "References": f"<orig-1@cabinet.fr> {ack_id}"}))
    [ticket] = await tickets(container)
    assert code == 250 and ticket.contacts == 2
    assert [m.ticket_id for m in await mails(container, "in")] == [ticket.id, ticket.id]
    # A mail that only references the first one (no reference in its subject) joins too.
    await send(gateway, mail(subject="Complément", headers={"References": "<orig-1@cabinet.fr>"}))
    assert len(await tickets(container)) == 1


async def test_given_reply_to_a_closed_ticket_then_a_new_ticket_names_it(gateway, container, relay):
    await send(gateway, mail())
    [ticket] = await tickets(container)
    async with container.session_factory() as s:
        from ticket_core.models import Ticket

        row = await s.get(Ticket, ticket.id)
        row.status = "closed"
        await s.commit()
    await send(gateway, mail(subject=f"Re: [{ticket.reference}] merci"))
    old, new = await tickets(container)
    assert new.id != old.id and ticket.reference in new.description


@pytest.mark.parametrize(("headers", "mail_from", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "dupont@cabinet.fr", "auto_submitted"),
    ({"Precedence": "bulk"}, "dupont@cabinet.fr", "precedence"),
    ({"List-Id": "<annonces.cabinet.fr>"}, "dupont@cabinet.fr", "list"),
    ({"X-Autoreply": "yes"}, "dupont@cabinet.fr", "auto_submitted"),
    ({}, "<>", "null_sender"),
    ({"Return-Path": "<>"}, "dupont@cabinet.fr", "null_sender"),
])
async def test_given_auto_reply_when_received_then_no_acknowledgement(gateway, container, relay, headers, mail_from, reason):
    code, _ = await send(gateway, mail(subject="Absence du bureau", headers=headers), mail_from=mail_from)
    [stored] = await mails(container, "in")
    assert code == 250 and len(await tickets(container)) == 1  # still a ticket
    assert (stored.automatic, stored.ack_status) == (reason, "automatic")
    assert len(await mails(container, "out")) == 0
    await send(gateway, mail(subject="Vraie question", sender="autre@cabinet.fr"), mail_from="autre@cabinet.fr")
    assert len(await relay.wait_for(1)) == 1
    assert relay.messages[0].rcpt_tos == ["autre@cabinet.fr"]  # only the human got one


async def test_given_bounce_from_mailer_daemon_then_no_acknowledgement(gateway, container, relay):
    await send(gateway, mail(subject="Undelivered Mail Returned to Sender",
                             sender="MAILER-DAEMON@mx.cabinet.fr"), mail_from="<>")
    [stored] = await mails(container, "in")
    assert stored.ack_status == "automatic" and stored.automatic in ("null_sender", "mailer_daemon")
    assert await mails(container, "out") == []


async def test_given_loop_attempt_from_one_sender_then_acknowledgements_are_rate_limited(gateway, container, relay):
    for n in range(8):
        code, _ = await send(gateway, mail(subject=f"Message {n}", sender="robot@boucle.fr"), mail_from="robot@boucle.fr")
        assert code == 250
    assert len(await tickets(container)) == 8  # every mail is a ticket…
    statuses = [m.ack_status for m in await mails(container, "in")]
    assert statuses == ["queued"] * 3 + ["rate_limited"] * 5  # …but only 3 acknowledgements
    await relay.wait_for(3)
    await send(gateway, mail(subject="Autre", sender="humain@exemple.fr"), mail_from="humain@exemple.fr")
    await relay.wait_for(4)  # the limit is per sender
    assert len(relay.messages) == 4


async def test_given_mail_from_our_own_address_then_no_acknowledgement(gateway, container, relay):
    await send(gateway, mail(sender=SUPPORT), mail_from=SUPPORT)
    [stored] = await mails(container, "in")
    assert stored.ack_status == "own_address" and await mails(container, "out") == []


async def test_given_foreign_recipient_then_550_and_never_relayed(gateway, container, relay):
    code, text = await send(gateway, mail(), rcpt=["victime@ailleurs.org"])
    assert code == 550 and "Relay access denied" in text
    code, _ = await send(gateway, mail(), rcpt=["someone@support.test.evil.org"])
    assert code == 550
    assert await mails(container) == [] and await tickets(container) == []
    # Our domains and the portal's address are accepted.
    assert (await send(gateway, mail(), rcpt=["Contact@Support.Test"]))[0] == 250
    assert (await send(gateway, mail(subject="formulaire"), rcpt=["portail@formulaires.test"]))[0] == 250
    assert (await send(gateway, mail(), rcpt=["autre@formulaires.test"]))[0] == 550


async def test_given_same_mail_sent_twice_when_client_retries_then_one_ticket(gateway, container, relay):
    raw = mail(message_id="<retry-1@cabinet.fr>")
    first = await send(gateway, raw)
    second = await send(gateway, raw)  # the client never saw the first 250
    [ticket] = await tickets(container)
    assert first[0] == second[0] == 250 and ticket.reference in second[1]
    assert len(await mails(container, "in")) == 1 and len(await events(container, "mail_received")) == 1
    await relay.wait_for(1)
    assert len(await mails(container, "out")) == 1


@pytest.mark.parametrize("clock_at", [datetime(2026, 3, 7, 9, 0, tzinfo=UTC)])  # Saturday 10:00 Paris
async def test_given_mail_on_saturday_10h_then_taken_in_charge_is_due_monday_09h30(gateway, container, clock, clock_at):
    clock.now = clock_at
    await send(gateway, mail())
    [ticket] = await tickets(container)
    assert ticket.created_at == clock_at
    # Closed all weekend: the clock starts Monday 08:30, due 09:30 Paris (08:30 UTC).
    assert ticket.taken_in_charge_due_at == datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    assert ticket.taken_in_charge_at is None


async def test_given_attachments_then_stored_with_safe_names_within_the_quota(container, mail_settings, relay, tmp_path):
    from email.message import EmailMessage

    from mailgw.models import MailAttachment
    from mailgw.runtime import MailGateway
    from mailgw.storage import AttachmentStore
    from sqlalchemy import select

    settings = mail_settings.model_copy(update={"attachments_quota": 150 * 1024})
    gateway = await MailGateway(container, settings).start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "dupont@cabinet.fr", SUPPORT, "Pièces"
        msg.set_content("Ci-joint.")
        pdf = b"%PDF-1.4 " + bytes(100 * 1024)
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="../../etc/passwd\u202egpj.exe")
        msg.add_attachment(b"x" * (80 * 1024), maintype="image", subtype="png", filename="capture écran.png")
        msg.add_attachment(b"petit", maintype="text", subtype="csv", filename=".htaccess")
        assert (await send(gateway, msg.as_bytes()))[0] == 250
        async with container.session_factory() as s:
            rows = list(await s.scalars(select(MailAttachment).order_by(MailAttachment.position)))
        assert [(a.filename, a.content_type, a.size, a.stored) for a in rows] == [
            ("passwdgpj.exe", "application/pdf", len(pdf), True),
            ("capture écran.png", "image/png", 80 * 1024, False),  # over the 150 KB quota
            ("htaccess", "text/csv", 5, True),
        ]
        assert rows[1].skipped_reason == "quota"
        store = AttachmentStore(settings.attachments_root(container.settings.data_dir))
        assert store.get(rows[0].sha256) == pdf
        assert store.path(rows[0].sha256).is_relative_to(tmp_path / "attachments")
        assert not list((tmp_path).rglob("passwd*"))
    finally:
        await gateway.stop()


async def test_given_mails_from_one_new_sender_at_once_then_one_requester_and_every_mail_readable(gateway, container):
    import asyncio

    results = await asyncio.gather(*(send(gateway, mail(subject=f"Envoi {n}", sender="nouveau@exemple.fr"),
                                          mail_from="nouveau@exemple.fr") for n in range(6)))
    assert [code for code, _ in results] == [250] * 6
    rows = await tickets(container)
    assert len(rows) == 6 and not any(t.needs_attention for t in rows)
    assert len({t.requester_id for t in rows}) == 1 and rows[0].requester_id is not None


async def test_given_same_message_delivered_by_two_routes_then_stored_once_and_not_a_second_contact(gateway, container):
    raw = mail(message_id="<twice@cabinet.fr>")
    await send(gateway, raw)
    await send(gateway, b"Received: from mx2.support.test by guichet.test; Tue, 3 Mar 2026 10:00:05 +0100\r\n" + raw)
    [ticket] = await tickets(container)
    assert ticket.contacts == 1 and len(await mails(container, "in")) == 1
    # A Message-ID reused by a broken client for another mail is not lost: it joins.
    other = mail(subject="Autre sujet", body="Autre contenu", message_id="<twice@cabinet.fr>")
    code, _ = await send(gateway, other)
    assert code == 250 and len(await mails(container, "in")) == 2
    [ticket] = await tickets(container)
    assert ticket.contacts == 2
