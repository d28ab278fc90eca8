"""The IMAP poller against a real Dovecot: every mail of the mailbox becomes one ticket,
is flagged (or moved) only after its commit, IDLE brings new mails at once, a mailbox
renumbered (new UIDVALIDITY) is not ingested twice, and the receipt time is the
mailbox's INTERNALDATE."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from mailgw.models import ImapMailbox, ImapUid
from mailgw.runtime import MailGateway
from tests.integration.mail.conftest import Mailbox, mail, mails, tickets, wait_until

FLAG = "$GuichetIngested"


async def _flagged(mailbox: Mailbox, n: int, folder: str | None = None) -> bool:
    flags = await asyncio.to_thread(mailbox.flags, folder)
    return len(flags) == n and all(FLAG in f for f in flags.values())


async def test_given_mails_in_mailbox_when_polled_then_one_ticket_each_flagged_after_commit_and_idle_brings_new_ones(
        container, imap_settings, mailbox, relay):
    mailbox.append(*(mail(subject=f"Question {n}", sender=f"usager{n}@exemple.fr") for n in range(3)))
    gateway = await MailGateway(container, imap_settings.model_copy(update={"poll_interval": 300.0})).start()
    try:
        await wait_until(lambda: _flagged(mailbox, 3), what="3 mails flagged")
        assert [t.subject for t in await tickets(container)] == ["Question 0", "Question 1", "Question 2"]
        flags = await asyncio.to_thread(mailbox.flags)
        assert not any("\\Seen" in f for f in flags.values())  # read with BODY.PEEK: still unread for people
        await relay.wait_for(3)  # one acknowledgement each
        assert sorted(m.rcpt_tos[0] for m in relay.messages) == [f"usager{n}@exemple.fr" for n in range(3)]
        # IDLE: a new mail arrives long before the 300 s poll interval.
        await wait_until(lambda: _rounds(gateway), what="first round done")
        started = asyncio.get_running_loop().time()
        await asyncio.to_thread(mailbox.append, mail(subject="Nouvelle", sender="tard@exemple.fr"))
        await wait_until(lambda: _flagged(mailbox, 4), timeout=90, what="new mail via IDLE")
        assert asyncio.get_running_loop().time() - started < 90
        async with container.session_factory() as s:
            uids = list(await s.scalars(select(ImapUid).order_by(ImapUid.uid)))
            box = await s.get(ImapMailbox, imap_settings.imap_key)
        assert [u.uid for u in uids] == [1, 2, 3, 4] and all(u.flagged_at for u in uids)
        assert box.uidvalidity == await asyncio.to_thread(mailbox.uidvalidity)
        assert [m.source for m in await mails(container, "in")] == ["imap"] * 4
    finally:
        await gateway.stop()


async def _rounds(gateway):
    return gateway.imap.rounds >= 1


async def test_given_move_to_configured_then_processed_mails_leave_the_inbox(container, imap_settings, mailbox, relay):
    done = f"{mailbox.name}-traites"
    settings = imap_settings.model_copy(update={"imap_move_to": done})
    mailbox.append(mail(subject="A"), mail(subject="B"))
    gateway = await MailGateway(container, settings).start()
    try:
        await wait_until(lambda: _flagged(mailbox, 2, done), what="mails moved")
        assert await asyncio.to_thread(mailbox.flags) == {}
        assert len(await tickets(container)) == 2
    finally:
        await gateway.stop()


async def test_given_mailbox_renumbered_with_new_uidvalidity_then_no_mail_is_ingested_twice(
        container, imap_settings, mailbox, relay):
    mailbox.append(mail(subject="Un"), mail(subject="Deux"))
    gateway = await MailGateway(container, imap_settings).start()
    try:
        await wait_until(lambda: _flagged(mailbox, 2), what="first ingestion")
    finally:
        await gateway.stop()
    before = await asyncio.to_thread(mailbox.uidvalidity)
    await asyncio.to_thread(mailbox.recreate)  # same mails, unflagged, new UIDVALIDITY
    assert await asyncio.to_thread(mailbox.uidvalidity) != before
    mailbox.append(mail(subject="Trois"))
    gateway = await MailGateway(container, imap_settings).start()
    try:
        await wait_until(lambda: _flagged(mailbox, 3), what="re-listed mails flagged")
        assert [t.subject for t in await tickets(container)] == ["Un", "Deux", "Trois"]
        async with container.session_factory() as s:
            box = await s.get(ImapMailbox, imap_settings.imap_key)
        assert box.uidvalidity == await asyncio.to_thread(mailbox.uidvalidity)
    finally:
        await gateway.stop()


async def test_given_mail_delivered_to_mailbox_on_saturday_then_clock_runs_from_its_internaldate(
        container, imap_settings, mailbox, relay, clock):
    saturday = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)  # Saturday 10:00 Paris; polled on Tuesday
    mailbox.append(mail(subject="Samedi"), when=saturday)
    gateway = await MailGateway(container, imap_settings).start()
    try:
        await wait_until(lambda: _flagged(mailbox, 1), what="ingested")
        [ticket] = await tickets(container)
        assert ticket.created_at == saturday
        assert ticket.taken_in_charge_due_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # Monday 09:30 Paris
    finally:
        await gateway.stop()


async def test_given_the_standby_site_of_a_pair_then_mails_wait_in_the_mailbox_until_it_is_active(
        container, imap_settings, mailbox, relay):
    mailbox.append(mail(subject="Pendant la bascule", sender="usager@exemple.fr"))
    active = {"now": False}
    container.extras["site_is_active"] = lambda: active["now"]
    gateway = await MailGateway(container, imap_settings.model_copy(update={"poll_interval": 1.0})).start()
    try:
        await asyncio.sleep(3)  # three polling intervals on the standby: nothing taken
        assert await tickets(container) == [] and await asyncio.to_thread(mailbox.flags) != {}
        assert not any(FLAG in f for f in (await asyncio.to_thread(mailbox.flags)).values())
        active["now"] = True  # this site now holds the lease
        await wait_until(lambda: _flagged(mailbox, 1), what="mail taken after the switchover")
        assert [t.subject for t in await tickets(container)] == ["Pendant la bascule"]
        await relay.wait_for(1)  # and its acknowledgement sent by the now active site
    finally:
        await gateway.stop()
