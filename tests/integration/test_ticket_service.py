"""The ticket core's service layer on SQLite and PostgreSQL: references, requesters,
qualification and priority, SLA clocks in business time, the N1/N2/N3 workflow with its
history and journal facts, and transactions that leave nothing half-written."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from ticket_core.exceptions import (
    InvalidValue,
    MissingEscalationInformation,
    TransitionNotAllowed,
    UnknownCatalogueEntry,
)
from ticket_core.models import JournalEvent, Ticket, TicketHistory
from ticket_core.services import Actor

OPERATOR = Actor(1, "alice", "operator")


async def _seed_user(container):
    from accounts.services import create_user

    async with container.session_factory() as s:
        await create_user(s, username="alice", password="correct horse battery", role="operator")
        await s.commit()


async def _kinds(session, ticket_id):
    return list(await session.scalars(
        select(JournalEvent.kind).where(JournalEvent.ticket_id == ticket_id).order_by(JournalEvent.id)))


async def test_given_new_tickets_then_references_follow_each_other_per_year(container, clock):
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        a = await svc.create_ticket(channel="phone")
        b = await svc.create_ticket(channel="mail")
        await s.commit()
    assert (a.reference, b.reference) == ("GU-2026-000001", "GU-2026-000002")
    clock.now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    async with container.session_factory() as s:
        c = await (await container.tickets(s)).create_ticket(channel="chat")
        await s.commit()
    assert c.reference == "GU-2027-000001"


async def test_given_same_number_twice_then_one_requester_with_several_contact_points(container):
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        r1 = await svc.find_or_create_requester(phone="01 23 45 67 89", audience="avocat")
        r2 = await svc.find_or_create_requester(phone="+33123456789")
        await svc.add_contact_point(r1.id, email="Maitre.Dupont@Example.fr")
        r3 = await svc.find_or_create_requester(email="maitre.dupont@example.fr")
        anonymous = await svc.find_or_create_requester(phone="anonymous")
        await s.commit()
    assert r1.id == r2.id == r3.id
    assert [p.number for p in r1.phones] == ["+33123456789"]
    assert [e.address for e in r1.emails] == ["maitre.dupont@example.fr"]
    assert anonymous is None


async def test_given_mail_on_saturday_then_taken_in_charge_due_monday_0930(container, clock):
    # Saturday 7 March 2026 10:00 Paris = 09:00 UTC; due Monday 9 March 09:30 Paris = 08:30 UTC.
    received = datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
    async with container.session_factory() as s:
        t = await (await container.tickets(s)).create_ticket(channel="mail", received_at=received)
        await s.commit()
    assert t.taken_in_charge_due_at == datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    # Unqualified: the normal 4-hour clock, Monday 12:30 Paris.
    assert t.handling_due_at == datetime(2026, 3, 9, 11, 30, tzinfo=UTC)


async def test_given_priority_raised_mid_ticket_then_handling_clock_shortens_from_creation(container, clock):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        t = await svc.create_ticket(channel="phone", audience="citoyen")  # Tue 10:00 Paris
        await svc.qualify(t.id, OPERATOR, application="tr-citoyens", request_type="depot", severity=3)
        assert (t.criticality, t.severity, t.priority) == (2, 3, 4)
        assert t.handling_due_at == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)  # 14:00 Paris
        clock.advance(minutes=30)
        await svc.qualify(t.id, OPERATOR, component="depot", severity=1)  # high × blocking
        assert (t.criticality, t.priority) == (1, 1)
        assert t.handling_due_at == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)  # 12:00 Paris
        await s.commit()
        history = list(await s.scalars(select(TicketHistory).where(TicketHistory.ticket_id == t.id,
                                                                   TicketHistory.field == "priority")))
    assert [(h.old_value, h.new_value) for h in history] == [(None, "4"), ("4", "1")]


async def test_given_first_operator_action_then_ticket_taken_in_charge_once(container, clock):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        t = await svc.create_ticket(channel="mail")
        assert t.taken_in_charge_at is None
        clock.advance(minutes=20)
        await svc.add_note(t.id, OPERATOR, "lu")
        first = clock.now
        clock.advance(minutes=20)
        await svc.transition(t.id, "take", OPERATOR)
        await s.commit()
        kinds = await _kinds(s, t.id)
    assert t.taken_in_charge_at == first
    assert kinds.count("ticket_taken_in_charge") == 1


async def test_given_full_escalation_path_then_history_journal_and_clocks_are_right(container, clock):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        t = await svc.create_ticket(channel="phone", audience="avocat")
        await svc.qualify(t.id, OPERATOR, application="tr-avocats-ta", request_type="incident-acces", severity=2)
        with pytest.raises(MissingEscalationInformation) as err:
            await svc.transition(t.id, "escalate", OPERATOR)
        assert err.value.details["missing"] == ["identifiant", "message_erreur"]
        clock.advance(minutes=15)
        escalated_at = clock.now
        await svc.transition(t.id, "escalate", OPERATOR, glpi_reference="GLPI-42",
                             escalation_info={"identifiant": "cab-123", "message_erreur": "403"})
        assert (t.status, t.level, t.handled_at, t.escalated) == ("escalated_n2", "N2", escalated_at, True)
        await svc.transition(t.id, "remind", OPERATOR, note="relance 1")
        await svc.transition(t.id, "request_info", OPERATOR)
        assert t.escalation_bounced
        await svc.transition(t.id, "provide_info", OPERATOR, escalation_info={"navigateur": "Firefox"})
        await svc.transition(t.id, "pass_to_n3", OPERATOR)
        assert t.level == "N3"
        await svc.transition(t.id, "back_to_n2", OPERATOR)
        await svc.transition(t.id, "pass_to_n3", OPERATOR)
        await svc.transition(t.id, "technical_closure", OPERATOR)
        assert (t.status, t.resolved_by_level, t.level) == ("technically_closed", "N3", "N1")
        await svc.transition(t.id, "close", OPERATOR)
        await s.commit()
        kinds = await _kinds(s, t.id)
    assert t.status == "closed" and t.closed_at is not None
    assert t.handled_at == escalated_at  # the first escalation stops the clock
    assert t.escalation_info == {"identifiant": "cab-123", "message_erreur": "403", "navigateur": "Firefox"}
    for k in ("ticket_created", "ticket_qualified", "ticket_escalated", "ticket_reminded", "ticket_bounced",
              "ticket_resolved", "ticket_closed"):
        assert k in kinds
    assert kinds.count("ticket_transitioned") == 9  # escalate … close


async def test_given_forbidden_transition_then_nothing_is_written(container):
    async with container.session_factory() as s:
        t = await (await container.tickets(s)).create_ticket(channel="phone")
        await s.commit()
    async with container.session_factory() as s:
        before = await s.scalar(select(func.count()).select_from(JournalEvent))
        svc = await container.tickets(s)
        with pytest.raises(TransitionNotAllowed):
            await svc.transition(t.id, "close", OPERATOR)
        await s.rollback()
    async with container.session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(JournalEvent)) == before
        assert (await s.get(Ticket, t.id)).status == "new"


async def test_given_unknown_catalogue_entries_then_clear_errors(container):
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        t = await svc.create_ticket(channel="phone")
        for kwargs, field in (({"application": "nope"}, "application"), ({"request_type": "nope"}, "request_type"),
                              ({"audience": "martians"}, "audience")):
            with pytest.raises(UnknownCatalogueEntry) as err:
                await svc.qualify(t.id, OPERATOR, **kwargs)
            assert err.value.field == field
        with pytest.raises(InvalidValue):
            await svc.create_ticket(channel="fax")


async def test_given_duplicate_when_merged_then_survivor_counts_contacts_and_merge_is_journaled(container):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        keep = await svc.create_ticket(channel="phone")
        dup = await svc.create_ticket(channel="mail")
        await svc.transition(dup.id, "merge", OPERATOR, merge_into=keep.reference)
        await s.commit()
        assert (dup.status, dup.merged_into_id, keep.contacts) == ("merged", keep.id, 2)
        assert "ticket_merged" in await _kinds(s, dup.id)
        with pytest.raises(InvalidValue):
            await svc.transition(keep.id, "merge", OPERATOR, merge_into=keep.reference)


async def test_given_resolved_then_reopened_then_not_first_contact(container):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        t = await svc.create_ticket(channel="phone")
        await svc.transition(t.id, "resolve", OPERATOR)
        assert (t.resolved_by_level, t.contacts) == ("N1", 1)
        await svc.transition(t.id, "reopen", OPERATOR)
        assert (t.status, t.contacts, t.resolved_at) == ("in_progress", 2, None)


async def test_given_problem_then_incidents_link_to_it(container):
    await _seed_user(container)
    async with container.session_factory() as s:
        svc = await container.tickets(s)
        p = await svc.create_problem(OPERATOR, "Dépôt impossible depuis la mise à jour")
        a = await svc.create_ticket(channel="phone")
        b = await svc.create_ticket(channel="mail")
        await svc.link_problem(a.id, p.id, OPERATOR)
        await svc.link_problem(b.id, p.id, OPERATOR)
        await s.commit()
        linked = list(await s.scalars(select(Ticket.reference).where(Ticket.problem_id == p.id).order_by(Ticket.id)))
    assert linked == [a.reference, b.reference]
