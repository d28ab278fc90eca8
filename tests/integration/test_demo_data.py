"""``guichet demo-data`` on SQLite and PostgreSQL: deterministic for a seed (and the same on
both databases), shaped like SPEC §1/§2 (channel and audience mixes), calls only in opening
hours but the closed-message ones, every answered call and only those making a phone ticket,
mail clocks in business time, references that the real service continues, journal facts
with their required data, the service's own records as the failover module writes them
(probes, openings and closings, a drill) and survey answers as the chat gateway writes them,
idempotent re-runs, and the command line with its bad arguments.

Two small months (``--months 2 --scale 0.3``, September-October 2025) keep each test to a
few seconds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chatgw.models import RATINGS, SatisfactionAnswer, SatisfactionInvitation
from demo.generator import DEMO_PASSWORD, T, generate, operator_pool_size, run_demo_data
from failover.models import Drill, Switchover
from failover.settings import FailoverSettings
from guichet.bootstrap import build_container
from guichet.settings import load_settings
from telephony.models import Call
from tests.conftest import PG_SERVER, _pg_admin, _sa_url
from ticket_core.business_time import BusinessCalendar
from ticket_core.db import create_engine
from ticket_core.journal import REQUIRED_DATA, EventKind
from ticket_core.models import JournalEvent, Ticket, TicketSequence
from ticket_core.priority import priority

MONTHS = [(2025, 9), (2025, 10)]
SCALE = 0.3
SEED = 7


def _settings(db_url: str, tmp_path: Path):
    return load_settings({"database_url": db_url, "data_dir": str(tmp_path / "var")})


async def _generate(db_url: str, tmp_path: Path, seed: int = SEED, months=MONTHS):
    return await generate(_settings(db_url, tmp_path), months, scale=SCALE, seed=seed, progress=False)


async def _rows(db_url: str, model, order_by) -> list:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(select(model.__table__).order_by(order_by)))
    finally:
        await engine.dispose()


def _canon(value):
    if isinstance(value, (dict, list)):  # JSON (PostgreSQL's jsonb orders keys its own way)
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, float):
        return repr(round(value, 6))
    return repr(value)


async def _digest(db_url: str) -> str:
    h = hashlib.sha256()
    for model, order in ((Ticket, Ticket.id), (Call, Call.id), (JournalEvent, JournalEvent.id),
                         (SatisfactionInvitation, SatisfactionInvitation.id),
                         (SatisfactionAnswer, SatisfactionAnswer.ticket_id), (Drill, Drill.id),
                         (Switchover, Switchover.id)):
        for row in await _rows(db_url, model, order):
            h.update("|".join(_canon(v) for v in row).encode())
            h.update(b"\n")
    return h.hexdigest()


@pytest.fixture
def another_db(template_databases, tmp_path):
    """A factory of extra fresh databases ("sqlite" or "postgresql"), dropped afterwards."""
    made: list[str] = []

    async def make(backend: str) -> str:
        if backend == "sqlite":
            target = tmp_path / f"extra-{uuid.uuid4().hex[:6]}.sqlite3"
            shutil.copyfile(template_databases["sqlite"], target)
            return f"sqlite+aiosqlite:///{target}"
        name = f"guichet_t_{uuid.uuid4().hex[:10]}"
        await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_databases["postgresql"]}"')
        made.append(name)
        return _sa_url(PG_SERVER, name)

    yield make
    for name in made:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_given_same_seed_then_identical_rows_and_another_seed_differs(db_url, backend, another_db, tmp_path):
    await _generate(db_url, tmp_path)
    twin = await another_db(backend)
    await _generate(twin, tmp_path)
    assert await _digest(db_url) == await _digest(twin)
    other = await another_db(backend)
    await _generate(other, tmp_path, seed=SEED + 1)
    assert await _digest(other) != await _digest(db_url)


@pytest.mark.postgres
async def test_given_same_seed_then_sqlite_and_postgresql_hold_the_same_history(another_db, tmp_path):
    lite, pg = await another_db("sqlite"), await another_db("postgresql")
    await _generate(lite, tmp_path)
    await _generate(pg, tmp_path)
    assert await _digest(lite) == await _digest(pg)


async def test_volumes_and_mixes_follow_the_spec(db_url, tmp_path):
    summary = await _generate(db_url, tmp_path)
    tickets = await _rows(db_url, Ticket, Ticket.id)
    kept = [t for t in tickets if t.status != "merged"]
    # ~1,136 a month at scale 1 (September busier than average, October about average)
    per_month = Counter(t.created_at.astimezone().strftime("%Y-%m") for t in kept)
    assert 0.7 * 1136 * SCALE * 2 < len(kept) < 1.35 * 1136 * SCALE * 2
    assert len(per_month) >= 2
    audiences = Counter(t.audience_code for t in kept if t.audience_code)
    total = sum(audiences.values())
    assert abs(audiences["citoyen"] / total - 0.50) < 0.06
    assert abs(audiences["avocat"] / total - 0.25) < 0.05
    assert abs(audiences["administration"] / total - 0.25) < 0.05
    expected = {"avocat": (0.91, 0.08), "administration": (0.91, 0.08), "citoyen": (0.75, 0.22)}
    for audience, (phone, mail) in expected.items():
        channels = Counter(t.channel for t in kept if t.audience_code == audience)
        n = sum(channels.values())
        assert abs(channels["phone"] / n - phone) < 0.06, (audience, channels)
        assert abs(channels["mail"] / n - mail) < 0.06, (audience, channels)
    # priorities follow the matrix; a few merges, escalations, bounces, second contacts
    assert all(t.priority == priority(t.criticality, t.severity) for t in kept if t.priority is not None)
    assert 0.05 < sum(t.escalated for t in kept) / len(kept) < 0.16
    assert any(t.escalation_bounced for t in tickets)
    assert any(t.status == "merged" and t.merged_into_id for t in tickets)
    assert any(t.contacts >= 2 for t in tickets)
    assert any(t.resolved_by_level in ("N2", "N3") for t in tickets)
    assert sum(1 for t in kept if t.resolved_by_level == "N1" and t.contacts == 1 and not t.escalated) / len(kept) > 0.8
    # the last month ends with work in progress (the horizon cuts what has not happened yet)
    assert any(t.status in ("escalated_n2", "escalated_n3", "info_requested", "resolved", "in_progress", "new")
               for t in tickets)
    assert [s.month for s in summary.months] == ["2025-09", "2025-10"]


async def test_calls_only_in_opening_hours_but_the_closed_message_ones(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path)
    cal = BusinessCalendar(settings.opening_hours)
    calls = await _rows(db_url, Call, Call.id)
    outcomes = Counter(c.outcome for c in calls)
    assert set(outcomes) == {"answered", "abandoned", "lost", "outside_hours"}
    for c in calls:
        if c.outcome == "outside_hours":
            assert not cal.is_open(c.received_at), c
            assert c.ticket_id is None and c.presented_at is None
        else:
            assert cal.is_open(c.received_at), c
            assert c.received_at < c.presented_at <= c.ended_at
            assert c.site == settings.site
    presented = outcomes["answered"] + outcomes["abandoned"] + outcomes["lost"]
    within_40 = sum(1 for c in calls if c.outcome == "answered" and c.wait_seconds < 40)
    assert 0.70 < within_40 / presented < 0.95
    assert 0.02 < outcomes["abandoned"] / presented < 0.12
    anonymous = sum(1 for c in calls if c.caller_number is None)
    assert 0 < anonymous < 0.06 * len(calls)
    assert all(c.caller_number.startswith("+33") for c in calls if c.caller_number)
    # repeat callers, and abandoned callers who called again and were answered
    by_number = Counter(c.caller_number for c in calls if c.caller_number)
    assert sum(1 for n in by_number.values() if n > 1) > 10
    lost = {c.id: c for c in calls if c.outcome in ("abandoned", "lost")}
    recovered = [e for e in await _rows(db_url, JournalEvent, JournalEvent.id) if e.kind == "call_recovered"]
    assert len(recovered) > 0.8 * sum(1 for c in lost.values() if c.caller_number)
    by_id = {c.id: c for c in calls}
    for e in recovered:  # as the callback service records a renewal by a new inbound call
        gone, again = lost[e.call_id], by_id[e.data["recovering_call_id"]]
        assert e.data["by"] == "inbound_call" and again.outcome == "answered"
        assert again.caller_number == gone.caller_number is not None
        assert gone.ended_at < again.answered_at == e.occurred_at <= cal.end_of_next_business_day(gone.ended_at)


async def test_every_answered_call_and_only_those_make_a_phone_ticket(db_url, tmp_path):
    await _generate(db_url, tmp_path)
    calls = await _rows(db_url, Call, Call.id)
    tickets = {t.id: t for t in await _rows(db_url, Ticket, Ticket.id)}
    answered = [c for c in calls if c.outcome == "answered"]
    for c in calls:
        if c.outcome == "answered":
            t = tickets[c.ticket_id]
            assert t.channel == "phone" and t.source_ref == f"demo:call:{c.id}"
            # as telephony does: dated when the call was received, assigned to its operator
            assert c.operator_id is not None and t.created_at == c.received_at and t.assignee_id == c.operator_id
            assert (c.requester_id is None) == (c.caller_number is None) == (t.requester_id is None)
        else:
            assert c.ticket_id is None and c.operator_id is None
    phone = [t for t in tickets.values() if t.channel == "phone"]
    assert sorted(t.id for t in phone) == sorted(c.ticket_id for c in answered)


async def test_mail_clocks_are_in_business_time(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path)
    cal = BusinessCalendar(settings.opening_hours)
    mails = [t for t in await _rows(db_url, Ticket, Ticket.id) if t.channel == "mail"]
    outside = sum(1 for t in mails if not cal.is_open(t.created_at))
    assert 0.15 < outside / len(mails) < 0.45  # nights and weekends
    in_time = 0
    for t in mails:
        assert t.taken_in_charge_due_at == cal.add_business_hours(t.created_at, settings.sla_mail_hours)
        if t.taken_in_charge_at is not None:
            assert t.taken_in_charge_at >= t.created_at and cal.is_open(t.taken_in_charge_at)
            in_time += t.taken_in_charge_at <= t.taken_in_charge_due_at
    assert 0.75 < in_time / len(mails) <= 1.0
    for t in await _rows(db_url, Ticket, Ticket.id):
        hours = settings.sla_critical_hours if t.priority is not None and t.priority <= 2 else settings.sla_normal_hours
        assert t.handling_due_at == cal.add_business_hours(t.created_at, hours)


async def test_journal_facts_have_their_required_data_and_match_the_tickets(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path)
    events = await _rows(db_url, JournalEvent, JournalEvent.id)
    kinds = Counter(e.kind for e in events)
    for e in events:
        kind = EventKind(e.kind)
        assert all(k in e.data for k in REQUIRED_DATA.get(kind, ())), e
        assert e.recorded_at == e.occurred_at
        # only the other site of the pair journals anything else, while a drill makes it active
        assert e.site == settings.site or (e.site == "backup" and kind in (
            EventKind.PROBE_RESULT, EventKind.SITE_SWITCHED_OVER)), e
    for kind in ("call_received", "call_presented", "call_offered", "call_answered", "call_abandoned", "call_lost",
                 "call_ended", "call_received_outside_hours", "call_recovered", "operator_state_changed", "mail_received",
                 "chat_started", "chat_answered", "chat_ended", "ticket_created", "ticket_taken_in_charge",
                 "ticket_qualified", "ticket_transitioned", "ticket_escalated", "ticket_bounced", "ticket_reminded",
                 "ticket_resolved", "ticket_closed", "ticket_merged", "probe_result", "service_opened",
                 "service_closed", "site_switched_over", "drill_done", "survey_answered"):
        assert kinds[kind] > 0, kind
    tickets = await _rows(db_url, Ticket, Ticket.id)
    assert kinds["ticket_created"] == len(tickets)
    assert kinds["call_answered"] == kinds["call_ended"] == sum(1 for t in tickets if t.channel == "phone")
    created = {e.ticket_id: e for e in events if e.kind == "ticket_created"}
    taken = {e.ticket_id: e for e in events if e.kind == "ticket_taken_in_charge"}
    for t in tickets:
        assert created[t.id].data["reference"] == t.reference
        assert created[t.id].occurred_at == t.created_at
        if t.taken_in_charge_at is not None:
            assert taken[t.id].occurred_at == t.taken_in_charge_at and taken[t.id].operator_id is not None
    for e in events:
        if e.kind == "ticket_transitioned":
            assert {"action", "from", "to"} <= set(e.data)
        if e.kind == "call_answered":
            assert e.operator_id is not None and e.call_id and e.queue in ("avocat", "administration", "citoyen")
            assert {"wait_seconds", "attempt", "overflow"} <= set(e.data)
        if e.kind in ("call_received", "call_received_outside_hours"):
            assert e.queue is None and "anonymous" in e.data
        if e.kind == "operator_state_changed":
            assert {"old", "new", "reason", "pause_reason", "seconds_in_old_state"} <= set(e.data)
            assert e.channel is None
    # each operator who works a day logs in and out
    states = Counter((e.operator_id, e.data["new"]) for e in events if e.kind == "operator_state_changed")
    for op in {e.operator_id for e in events if e.kind == "operator_state_changed"}:
        assert states[(op, "available")] >= states[(op, "logged_out")] > 0


def _days(months):
    for year, month in months:
        day = date(year, month, 1)
        while day.month == month:
            yield day
            day += timedelta(days=1)


async def test_probes_openings_and_closings_are_the_failover_modules_records(db_url, backend, another_db, tmp_path):
    settings = _settings(db_url, tmp_path)
    summary = await _generate(db_url, tmp_path)
    cal = BusinessCalendar(settings.opening_hours)
    events = await _rows(db_url, JournalEvent, JournalEvent.id)
    probes = [e for e in events if e.kind == "probe_result"]
    checks = set(FailoverSettings().checks)
    assert {e.data["check"] for e in probes} == checks
    for e in probes:  # journaled while open only, by the site they probe
        assert cal.is_open(e.occurred_at), e
        assert set(e.data) == {"check", "ok", "probed_site", "ms"} | ({"detail"} if not e.data["ok"] else set())
        assert e.data["probed_site"] == e.site and e.channel is None and e.ticket_id is None
    by_check = defaultdict(list)
    for e in sorted(probes, key=lambda e: (e.occurred_at, e.id)):
        by_check[e.data["check"]].append(e)
    boundaries = {(e.kind, e.data["scheduled_at"]): e for e in events if e.kind in ("service_opened", "service_closed")}
    late = 0
    for day in _days(MONTHS):
        for ws, we in cal.window(day):
            for check in checks:  # every few minutes, well within the indicators' 900 s gap
                seen = [e.occurred_at for e in by_check[check] if ws <= e.occurred_at < we]
                assert seen[0] - ws < timedelta(seconds=6) and we - seen[-1] <= timedelta(seconds=300)
                assert max(b - a for a, b in zip(seen, seen[1:], strict=False)) <= timedelta(seconds=360)
            for kind, instant in (("service_opened", ws), ("service_closed", we)):
                fact = boundaries.pop((kind, instant.isoformat()))
                assert fact.occurred_at >= instant and fact.site == settings.site
                assert fact.data["late_seconds"] == round((fact.occurred_at - instant).total_seconds(), 1)
                late += fact.data["late_seconds"] > 60
    assert not boundaries  # one opening and one closing per window, nothing else
    assert late == sum(m.service.late_boundaries for m in summary.months) <= 2
    # a failing check is journaled when it fails and again when it recovers, the same day
    for check, facts in by_check.items():
        for a, b in zip(facts, facts[1:], strict=False):
            if not a.data["ok"]:
                assert a.data["detail"] and b.occurred_at.date() == a.occurred_at.date(), (check, a)
    assert any(not e.data["ok"] for e in probes)
    # probes depend on time, not on volume: the same at another scale
    small = await another_db(backend)
    await generate(_settings(small, tmp_path), MONTHS[1:], scale=0.1, seed=SEED, progress=False)

    def october(rows):
        return [(e.occurred_at, e.kind, e.site, _canon(e.data)) for e in rows
                if e.kind in ("probe_result", "service_opened", "service_closed") and e.occurred_at.month == 10]

    assert october(events) == october(await _rows(small, JournalEvent, JournalEvent.id))


async def test_drills_are_recorded_as_the_failover_module_records_them(db_url, tmp_path):
    from failover import indicators as failover_indicators

    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path)
    cal = BusinessCalendar(settings.opening_hours)
    drills = await _rows(db_url, Drill, Drill.id)
    switches = await _rows(db_url, Switchover, Switchover.id)
    events = await _rows(db_url, JournalEvent, JournalEvent.id)
    assert drills and len(switches) == 2 * len(drills)
    done = {e.data["drill_id"]: e for e in events if e.kind == "drill_done"}
    switched = [e for e in events if e.kind == "site_switched_over"]
    for d in drills:
        assert d.semester == "2025-S2" and d.trigger == "manual" and d.plan_id is None
        assert (d.from_site, d.target_site) == (settings.site, "backup") and d.started_by_name == "superviseur"
        assert cal.is_open(d.started_at) and d.started_at < d.ended_at
        assert [c["name"] for c in d.checks] == ["switchover", "call", "mail", "chat", "failback"]
        assert d.status == ("passed" if all(c["ok"] for c in d.checks) else "failed")
        out, back = [s for s in switches if s.drill_id == d.id]
        assert (out.from_site, out.to_site, back.from_site, back.to_site) == ("primary", "backup", "backup", "primary")
        assert out.kind == back.kind == "drill" and back.epoch == out.epoch + 1
        assert out.reason == f"exercice de bascule n°{d.id} (aller)" and back.reason.endswith("(retour)")
        assert d.started_at < out.detected_at < out.completed_at < back.detected_at < back.completed_at < d.ended_at
        facts = [e for e in switched if e.data["reason"] in (out.reason, back.reason)]
        assert [(e.site, e.occurred_at, e.data["epoch"]) for e in facts] == [
            ("backup", out.completed_at, out.epoch), ("primary", back.completed_at, back.epoch)]
        fact = done[d.id]
        assert fact.occurred_at == d.ended_at and fact.site == settings.site
        assert fact.data["ok"] == (d.status == "passed") and fact.data["started_at"] == d.started_at.isoformat()
        assert fact.data["checks"] == {c["name"]: c["ok"] for c in d.checks}
        # while the other site is active, it journals the probes
        during = [e for e in events
                  if e.kind == "probe_result" and out.detected_at <= e.occurred_at < back.completed_at]
        assert {e.site for e in during} <= {"backup"} and any(e.occurred_at == out.completed_at for e in during)
    # the failover module's own T3-IQ03 reads them as its drills
    container = build_container(settings)
    try:
        async with container.session_factory() as s:
            result = await failover_indicators.drills(s, "2025-S2", zone=cal.hours.zone, default_expected=2)
    finally:
        await container.close()
    assert result.done == sum(d.status == "passed" for d in drills) >= 1


async def test_survey_answers_are_written_as_the_chat_gateway_writes_them(db_url, tmp_path):
    summary = await _generate(db_url, tmp_path)
    tickets = {t.id: t for t in await _rows(db_url, Ticket, Ticket.id)}
    invitations = {i.ticket_id: i for i in await _rows(db_url, SatisfactionInvitation, SatisfactionInvitation.id)}
    answers = await _rows(db_url, SatisfactionAnswer, SatisfactionAnswer.ticket_id)
    facts = {e.ticket_id: e for e in await _rows(db_url, JournalEvent, JournalEvent.id) if e.kind == "survey_answered"}
    assert len(answers) == len(invitations) == len(facts) == sum(sum(m.surveys.values()) for m in summary.months)
    for a in answers:
        t, inv, fact = tickets[a.ticket_id], invitations[a.ticket_id], facts[a.ticket_id]
        assert a.rating in RATINGS and a.source == inv.source == ("chat" if t.channel == "chat" else "mail")
        assert t.resolved_at is not None and inv.created_at <= a.answered_at and len(inv.token_hash) == 64
        assert fact.occurred_at == a.answered_at and fact.data == {"rating": a.rating, "source": a.source}
        assert (fact.channel, fact.queue, fact.operator_id) == (t.channel, t.audience_code, None)
    resolved = sum(1 for t in tickets.values() if t.resolved_at is not None)
    assert 0.12 < len(answers) / resolved < 0.30  # scaled with the tickets
    ratings = Counter(a.rating for a in answers)
    assert 0.70 < ratings["tres_satisfait"] / len(answers) < 0.95
    assert 0.04 < ratings["satisfait"] / len(answers) < 0.22
    assert ratings["insatisfait"] / len(answers) < 0.08
    assert any(a.comment for a in answers) and any(not a.comment for a in answers)


async def test_references_are_unique_and_the_real_service_continues_them(db_url, tmp_path):
    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path)
    tickets = await _rows(db_url, Ticket, Ticket.id)
    refs = [t.reference for t in tickets]
    assert len(set(refs)) == len(refs)
    assert all(r.startswith("GU-2025-") and len(r) == len("GU-2025-000001") for r in refs)
    assert sorted(int(r[-6:]) for r in refs) == list(range(1, len(refs) + 1))
    container = build_container(settings, clock=lambda: datetime(2025, 11, 3, 9, 0, tzinfo=UTC))
    try:
        async with container.session_factory() as s:
            seq = await s.get(TicketSequence, 2025)
            assert seq.last == len(refs)
            ticket = await (await container.tickets(s)).create_ticket(channel="mail")
            await s.commit()
    finally:
        await container.close()
    assert ticket.reference == f"GU-2025-{len(refs) + 1:06d}"
    assert ticket.id > max(t.id for t in tickets)


async def test_running_twice_adds_nothing_and_a_later_month_is_added(db_url, tmp_path, capsys):
    await _generate(db_url, tmp_path)
    before = await _digest(db_url)
    again = await _generate(db_url, tmp_path)
    assert all(m.skipped for m in again.months)
    assert await _digest(db_url) == before
    more = await _generate(db_url, tmp_path, months=[(2025, 10), (2025, 11)])
    assert [m.skipped for m in more.months] == [True, False]
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            users = T["users"]
            ops = await conn.scalar(select(func.count()).select_from(users).where(users.c.username.like("op%")))
            sups = await conn.scalar(select(func.count()).select_from(users).where(users.c.role == "supervisor"))
            n_refs = await conn.scalar(select(func.count()).select_from(Ticket.__table__))
            last = await conn.scalar(select(TicketSequence.__table__.c.last).where(TicketSequence.__table__.c.year == 2025))
    finally:
        await engine.dispose()
    assert ops == operator_pool_size(SCALE) and sups == 1
    assert last == n_refs


async def test_demo_operators_can_log_in_with_the_demo_password(db_url, tmp_path):
    from accounts.services import authenticate

    settings = _settings(db_url, tmp_path)
    await _generate(db_url, tmp_path, months=[(2025, 10)])
    container = build_container(settings)
    try:
        async with container.session_factory() as s:
            user = await authenticate(s, "op01", DEMO_PASSWORD)
            assert user.role == "operator" and user.sip_endpoint == "op01"
            assert (await authenticate(s, "auditeur", DEMO_PASSWORD)).role == "auditor"
            skills = list(await s.execute(select(T["operator_skills"]).where(T["operator_skills"].c.user_id == user.id)))
            assert {r.audience for r in skills} == {"avocat", "administration", "citoyen"}
    finally:
        await container.close()


def test_the_command_line_generates_and_refuses_bad_arguments(db_url, tmp_path, monkeypatch, capsys):
    from guichet.cli import main

    monkeypatch.setenv("GUICHET_DATABASE_URL", db_url)
    monkeypatch.setenv("GUICHET_DATA_DIR", str(tmp_path / "var"))
    assert main(["demo-data", "--months", "1", "--scale", "0.2", "--end", "2025-10"]) == 0
    err = capsys.readouterr().err
    assert "2025-10:" in err and "tickets" in err and "rows/s" in err and "done in" in err
    assert main(["demo-data", "--months", "1", "--scale", "0.2", "--end", "2025-10"]) == 0
    assert "already present, skipped" in capsys.readouterr().err
    for bad in (["--months", "0"], ["--scale", "0"], ["--scale", "-1"], ["--end", "2025-13"], ["--end", "oct"],
                ["--scale", "nan"]):
        assert main(["demo-data", *bad]) == 2, bad
        assert "demo-data:" in capsys.readouterr().err


def test_run_demo_data_reports_bad_arguments_without_touching_the_database(tmp_path, capsys):
    settings = load_settings({"data_dir": str(tmp_path / "var")})
    assert asyncio.run(run_demo_data(settings, months=0, scale=1, seed=1, end="2025-10")) == 2
    assert "--months" in capsys.readouterr().err
    assert not (tmp_path / "var" / "guichet.sqlite3").exists()


def test_bulk_rows_cover_every_column_of_the_models():
    from ticket_core.models import Requester, TicketHistory

    from demo import generator as g

    def columns(model):
        return {c.name for c in model.__table__.columns}

    assert set(g._TICKET_COLS) == columns(Ticket)
    assert set(g._CALL_COLS) == columns(Call)
    assert set(g._EVENT_COLS) == columns(JournalEvent) - {"id"}
    assert set(g._HISTORY_COLS) == columns(TicketHistory) - {"id"}
    assert set(g._REQUESTER_COLS) == columns(Requester)
    assert set(g._INVITATION_COLS) == columns(SatisfactionInvitation) - {"id"}
    assert set(g._ANSWER_COLS) == columns(SatisfactionAnswer)
