"""What a switchover and a drill do, beyond the lease (fencing.py) and the decision
(rules.py), which the site's runtime (runtime.py) combines:

- :func:`close_dead_site_calls`: the site taking over closes the calls the other site had
  in progress — it cannot re-attach them, they were on the other site's Asterisk — as lost
  (``site_failure``, or ``site_switchover`` for a planned one) and registers each with the
  callback service, so every caller is called back;
- :func:`carry_over_operators`: operators logged in on the other site are logged in here
  (paused ones stay paused): their softphones are registered to both sites;
- :func:`record_switchover`: the switchover row and its ``site_switched_over`` fact
  {from, to, seconds, reason, kind…};
- :func:`request_switchover`: a supervisor's manual switchover or failback;
- drills: the calendar (plans), :func:`start_drill` and :class:`DrillRunner`, which
  switches to the target site, places a test call (real SIP), sends a test mail (SMTP to
  the target's intake) and opens a test chat (its websocket), checks that each became a
  ticket, switches back, and records who, when, how long and what passed (``drill_done``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from failover import models as m
from failover import sip
from failover.settings import split_address
from telephony import models as calls
from ticket_core import journal
from ticket_core.db import utcnow
from ticket_core.exceptions import InvalidValue, NotFound, TransitionNotAllowed
from ticket_core.journal import EventKind, Fact
from ticket_core.models import JournalEvent, Ticket
from ticket_core.services import SYSTEM, normalise_phone

if TYPE_CHECKING:
    from failover.runtime import SiteController

log = logging.getLogger("guichet.failover")

SITE_FAILURE = "site_failure"
SITE_SWITCHOVER = "site_switchover"


# ----------------------------------------------------------------------------- takeover


async def close_dead_site_calls(container: Any, dead_site: str, *, at: datetime, reason: str,
                                callback_cut_calls: bool = True) -> int:
    """Close the other site's calls still in progress as lost, each registered for a
    callback. Returns how many were closed."""
    callbacks = container.extras.get("callbacks")
    me = container.settings.site
    closed = 0
    async with container.session_factory() as session:
        rows = list(await session.scalars(select(calls.Call).where(
            calls.Call.site == dead_site, calls.Call.ended_at.is_(None),
            calls.Call.outcome.in_([calls.IN_PROGRESS, calls.ANSWERED])).with_for_update()))
        for call in rows:
            ended = max(at, call.received_at)
            if call.answered_at is not None:
                call.ended_at = ended
                journal.append(session, Fact(
                    kind=EventKind.CALL_ENDED, occurred_at=ended, channel="phone", call_id=call.id,
                    operator_id=call.operator_id, queue=call.audience,
                    data={"talk_seconds": round((ended - call.answered_at).total_seconds(), 3), "cut_by": reason,
                          "closed_by_site": me}), site=dead_site)
                if callbacks is not None and callback_cut_calls:
                    await callbacks.register_lost(session, call, lost_at=ended, wait=call.wait_seconds or 0.0,
                                                  reason=reason)
            else:
                entered = call.presented_at or call.received_at
                wait = max(0.0, (ended - entered).total_seconds())
                call.outcome, call.lost_reason, call.ended_at, call.wait_seconds = calls.LOST, reason, ended, wait
                journal.append(session, Fact(
                    kind=EventKind.CALL_LOST, occurred_at=ended, channel="phone", call_id=call.id,
                    queue=call.audience, data={"reason": reason, "wait_seconds": round(wait, 3),
                                               "closed_by_site": me}), site=dead_site)
                if callbacks is not None:
                    await callbacks.register_lost(session, call, lost_at=ended, wait=wait, reason=reason,
                                                  queue_entered_at=call.presented_at)
            closed += 1
        await session.commit()
    if closed:
        log.warning("%d call(s) of site %s closed as lost (%s), callbacks scheduled", closed, dead_site, reason)
    return closed


async def carry_over_operators(container: Any, from_site: str) -> list[str]:
    """Align this site's ACD with each operator's latest state *on any site* (an operator
    is one person with a softphone registered to both): logged in on the site that
    failed → logged in here (paused ones paused, same reason); logged out there since
    this site last saw them → logged out here. Operators on a call here are left alone.
    Returns the ids changed."""
    from acd import domain as d

    acd = container.extras.get("acd")
    if acd is None or acd.acd is None:
        return []
    last = (select(JournalEvent.operator_id, func.max(JournalEvent.id).label("id"))
            .where(JournalEvent.kind == EventKind.OPERATOR_STATE_CHANGED.value, JournalEvent.operator_id.is_not(None))
            .group_by(JournalEvent.operator_id).subquery())
    async with container.session_factory() as session:
        facts = list(await session.scalars(select(JournalEvent).join(last, JournalEvent.id == last.c.id)))
    now = container.clock()
    changed = []
    for fact in facts:
        state = (fact.data or {}).get("new")
        if state is None or fact.site == container.settings.site:
            continue  # this site's own last word: the ACD restored it already
        op = str(fact.operator_id)
        await acd.ensure_known(op)
        try:
            current = acd.acd.operator(op).state
            if state == d.OperatorState.LOGGED_OUT.value:
                if current in (d.OperatorState.AVAILABLE, d.OperatorState.PAUSED, d.OperatorState.WRAP_UP):
                    acd.acd.logout(op, now)
                    changed.append(op)
                continue
            if current is not d.OperatorState.LOGGED_OUT:
                continue
            acd.acd.login(op, now)
            if state == d.OperatorState.PAUSED.value:
                acd.acd.pause(op, (fact.data or {}).get("pause_reason") or "pause", now)
        except d.AcdError as exc:
            log.warning("operator %s not carried over: %s", op, exc)
            continue
        changed.append(op)
    await acd.flush()
    dispatch = container.extras.get("dispatch")
    if dispatch is not None and changed:
        await dispatch()
    if changed:
        log.info("operators carried over from %s: %s", from_site, ", ".join(changed))
    return changed


async def record_switchover(container: Any, *, from_site: str | None, kind: str, reason: str,
                            requested_by: str | None, detected_at: datetime, completed_at: datetime, epoch: int,
                            promoted: bool, promotion_seconds: float | None, activation_seconds: float | None,
                            calls_lost: int, drill_id: int | None = None) -> m.Switchover:
    site = container.settings.site
    seconds = round(max(0.0, (completed_at - detected_at).total_seconds()), 3)
    async with container.session_factory() as session:
        row = m.Switchover(from_site=from_site, to_site=site, kind=kind, reason=reason[:300], requested_by=requested_by,
                           detected_at=detected_at, completed_at=completed_at, seconds=seconds, promoted=promoted,
                           promotion_seconds=promotion_seconds, activation_seconds=activation_seconds, epoch=epoch,
                           calls_lost=calls_lost, drill_id=drill_id)
        session.add(row)
        journal.append(session, Fact(kind=EventKind.SITE_SWITCHED_OVER, occurred_at=completed_at, data={
            "from": from_site, "to": site, "seconds": seconds, "reason": reason, "kind": kind, "epoch": epoch,
            "promoted": promoted, "promotion_seconds": promotion_seconds, "activation_seconds": activation_seconds,
            "calls_lost": calls_lost, "detected_at": detected_at.isoformat(), "requested_by": requested_by,
        }), site=site)
        await session.commit()
    log.warning("switched over from %s to %s in %.1fs (%s: %s)", from_site, site, seconds, kind, reason)
    return row


async def request_switchover(controller: SiteController, session: AsyncSession, *, to: str, kind: str, by: str,
                             reason: str) -> dict[str, Any]:
    """A person's switchover (or failback) to ``to``: written on the lease, carried out by
    the holder (it hands over) and ``to`` (it takes over)."""
    if to not in (controller.site, controller.peer):
        raise InvalidValue(f"unknown site {to!r}: {controller.site} or {controller.peer}", field="to")
    view = await controller.lease_view_in(session)
    if view.holder == to and not view.expired:
        raise TransitionNotAllowed(f"site {to} is already the active site", field="to")
    view = await controller.lease.request(to, kind=kind, by=by, reason=reason, session=session)
    controller.wake()
    return view.out()


# ----------------------------------------------------------------------------- drills


async def add_plan(session: AsyncSession, *, planned_for: datetime, note: str, user_id: int | None, zone: Any) -> m.DrillPlan:
    plan = m.DrillPlan(semester=m.semester_of(planned_for, zone), planned_for=planned_for, note=note, status=m.PLANNED,
                       created_by=user_id, created_at=utcnow())
    session.add(plan)
    await session.flush()
    return plan


async def start_drill(controller: SiteController, session: AsyncSession, *, user_id: int | None, by: str,
                      plan_id: int | None, trigger: str) -> m.Drill:
    """Record a drill and start it in the background (on this site's process)."""
    if controller.drill_task is not None and not controller.drill_task.done():
        raise TransitionNotAllowed("a drill is already running", field="drill")
    view = await controller.lease_view_in(session)
    if view.holder is None or view.expired:
        raise TransitionNotAllowed("no site is active: a drill needs an active site to switch from", field="drill")
    from_site = view.holder
    target = controller.peer if from_site == controller.site else controller.site
    plan = None
    if plan_id is not None:
        plan = await session.get(m.DrillPlan, plan_id)
        if plan is None:
            raise NotFound(f"no drill plan {plan_id}", field="plan_id")
        if plan.status != m.PLANNED:
            raise TransitionNotAllowed(f"drill plan {plan_id} is {plan.status}", field="plan_id")
    now = utcnow()
    drill = m.Drill(plan_id=plan_id, semester=m.semester_of(now, controller.zone), trigger=trigger, started_by=user_id,
                    started_by_name=by[:120], from_site=from_site, target_site=target, started_at=now,
                    status=m.RUNNING, checks=[], error="")
    session.add(drill)
    await session.flush()
    if plan is not None:
        plan.status, plan.drill_id = m.DONE, drill.id
    controller.start_drill_task(drill.id)
    return drill


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    ticket: str | None = None
    call_id: str | None = None  # the test call's row (indicators leave drill traffic out)

    def out(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "seconds": round(self.seconds, 3), "detail": self.detail[:300],
                "ticket": self.ticket, "call_id": self.call_id}


class DrillRunner:
    """Runs one recorded drill to its end, whatever happens (every step bounded)."""

    def __init__(self, controller: SiteController, drill_id: int) -> None:
        self.c = controller
        self.container = controller.container
        self.s = controller.settings
        self.drill_id = drill_id
        self.tag = secrets.token_hex(4)

    async def run(self) -> m.Drill:
        drill = None
        deadline = time.monotonic() + 15
        while drill is None:  # the request that recorded it commits after answering
            async with self.container.session_factory() as session:
                drill = await session.get(m.Drill, self.drill_id)
            if drill is None:
                if time.monotonic() > deadline:
                    raise NotFound(f"drill {self.drill_id} was never recorded", field="drill")
                await asyncio.sleep(0.1)
        from_site, target, by = drill.from_site, drill.target_site, drill.started_by_name
        t0 = time.monotonic()
        steps: list[Step] = []
        switch_s = back_s = None
        error = ""
        try:
            ok, switch_s, detail = await self._switch(target, by, "aller")
            steps.append(Step("switchover", ok, switch_s, detail))
            if ok:
                endpoints = await self._endpoints(target)
                steps += await asyncio.gather(self._call(target, endpoints), self._mail(endpoints),
                                              self._chat(endpoints))
        except Exception as exc:  # noqa: BLE001 - a drill records its failure, it never crashes the site
            log.exception("drill %s failed", self.drill_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                ok, back_s, detail = await self._switch(from_site, by, "retour")
                steps.append(Step("failback", ok, back_s, detail))
            except Exception as exc:  # noqa: BLE001
                error = (error + f"; failback: {type(exc).__name__}: {exc}").strip("; ")
                steps.append(Step("failback", False, 0.0, str(exc)))
        return await self._finish(steps, time.monotonic() - t0, switch_s, back_s, error)

    async def _switch(self, to: str, by: str, way: str) -> tuple[bool, float, str]:
        t0 = time.monotonic()
        deadline = t0 + self.s.drill_switch_timeout
        view = await self.c.lease.read()
        if view.holder == to and not view.expired and await self._site_active(to, view.epoch):
            if view.requested_holder not in (None, to):  # this drill's own request, not carried out
                await self.c.lease.clear_request(reason=f"exercice n°{self.drill_id} terminé")
            return True, 0.0, f"{to} déjà actif"
        await self.c.lease.request(to, kind=m.DRILL, by=by, reason=f"exercice de bascule n°{self.drill_id} ({way})")
        self.c.wake()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            view = await self.c.lease.read()
            if view.holder == to and not view.expired and await self._site_active(to, view.epoch):
                return True, time.monotonic() - t0, f"{to} actif (époque {view.epoch})"
        return False, time.monotonic() - t0, f"{to} non actif après {self.s.drill_switch_timeout:.0f} s"

    async def _site_active(self, site: str, epoch: int) -> bool:
        if site == self.c.site:
            return self.c.active and self.c.lease.epoch == epoch
        async with self.container.session_factory() as session:
            row = await session.get(m.FailoverSite, site, populate_existing=True)
            return row is not None and row.state == m.ACTIVE and row.epoch == epoch

    async def _endpoints(self, site: str) -> dict[str, str]:
        if site == self.c.site:
            return self.c.endpoints()
        async with self.container.session_factory() as session:
            row = await session.get(m.FailoverSite, site, populate_existing=True)
            return dict(row.endpoints) if row else {}

    # --- the three contacts ---------------------------------------------------------------

    async def _call(self, target: str, endpoints: dict[str, str]) -> Step:
        t0 = time.monotonic()
        if not endpoints.get("sip"):
            return Step("call", False, 0.0, "adresse SIP du site inconnue")
        host, port = split_address(endpoints["sip"])
        since = utcnow() - timedelta(seconds=1)
        number = normalise_phone(self.s.drill_caller_number)
        call = None
        try:
            call = await sip.call(host, port, self.container.settings.support_number, caller=self.s.drill_caller_number,
                                  answer_timeout=20, dtmf=self.s.drill_ivr_digit, dtmf_after=1.5)
            deadline = t0 + self.s.drill_call_timeout
            row = None
            while time.monotonic() < deadline and not call.ended.is_set():
                async with self.container.session_factory() as session:
                    row = await session.scalar(select(calls.Call).where(
                        calls.Call.site == target, calls.Call.caller_number == number, calls.Call.received_at >= since)
                        .order_by(calls.Call.received_at.desc()).limit(1))
                    if row is not None and row.ticket_id is not None:
                        ticket = await session.get(Ticket, row.ticket_id)
                        await self._note(session, row.ticket_id, "appel")
                        await session.commit()
                        return Step("call", True, time.monotonic() - t0,
                                    f"appel décroché après {row.wait_seconds or 0:.1f} s d'attente",
                                    ticket.reference if ticket else None, row.id)
                await asyncio.sleep(0.25)
            why = "raccroché par le site" if call.ended.is_set() else "pas de ticket à temps"
            state = "non reçu" if row is None else f"reçu ({row.outcome}), {why}"
            return Step("call", False, time.monotonic() - t0, f"appel de test {state}", None,
                        row.id if row is not None else None)
        except sip.SipError as exc:
            return Step("call", False, time.monotonic() - t0, f"appel de test refusé: {exc}")
        finally:
            if call is not None:
                await call.hangup()

    def _mail_settings(self) -> Any:
        from mailgw.runtime import gateway_settings

        return gateway_settings(self.container)

    async def _mail(self, endpoints: dict[str, str]) -> Step:
        t0 = time.monotonic()
        if not endpoints.get("smtp"):
            return Step("mail", False, 0.0, "adresse SMTP du site inconnue")
        ms = self._mail_settings()
        domain = ms.support_domain
        sender = self.s.drill_mail_from or f"exercice-bascule@{domain}"
        message_id = f"<drill-{self.drill_id}-{self.tag}@{domain}>"
        msg = EmailMessage()
        msg["From"] = f"Exercice de bascule <{sender}>"
        msg["To"] = ms.support_address
        msg["Subject"] = f"Exercice de bascule n°{self.drill_id} : courriel de test"
        msg["Message-ID"] = message_id
        msg["Date"] = formatdate(localtime=False)
        msg.set_content(f"Courriel de test de l'exercice de bascule n°{self.drill_id} ({self.tag}). "
                        "Aucune action n'est attendue.")
        host, port = split_address(endpoints["smtp"])

        def send() -> None:
            with smtplib.SMTP(host, port, timeout=15) as smtp:
                smtp.send_message(msg)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as exc:
            return Step("mail", False, time.monotonic() - t0, f"envoi refusé: {exc}")
        from mailgw.models import MailMessage

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with self.container.session_factory() as session:
                mail = await session.scalar(select(MailMessage).where(MailMessage.message_id == message_id).limit(1))
                if mail is not None and mail.ticket_id is not None:
                    ticket = await session.get(Ticket, mail.ticket_id)
                    await self._note(session, mail.ticket_id, "courriel")
                    await session.commit()
                    return Step("mail", True, time.monotonic() - t0, f"courriel n°{mail.id}",
                                ticket.reference if ticket else None)
            await asyncio.sleep(0.25)
        return Step("mail", False, time.monotonic() - t0, "courriel accepté mais aucun ticket à temps")

    async def _chat(self, endpoints: dict[str, str]) -> Step:
        t0 = time.monotonic()
        if not endpoints.get("http"):
            return Step("chat", False, 0.0, "adresse HTTP du site inconnue")
        url = endpoints["http"].replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/chat/ws"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), trust_env=False) as http:
                async with http.ws_connect(url, heartbeat=None) as ws:
                    await ws.send_str(json.dumps({
                        "type": "start", "audience": self.s.drill_audience, "name": "Exercice de bascule",
                        "message": f"Exercice de bascule n°{self.drill_id} : conversation de test ({self.tag})."}))
                    reference = None
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline and reference is None:
                        msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            return Step("chat", False, time.monotonic() - t0, f"websocket fermé ({msg.type.name})")
                        frame = json.loads(msg.data)
                        if frame.get("type") == "started":
                            reference = frame.get("reference")
                        elif frame.get("type") in ("closed", "error"):
                            return Step("chat", False, time.monotonic() - t0,
                                        f"chat refusé: {frame.get('message') or frame}")
                    if reference is None:
                        return Step("chat", False, time.monotonic() - t0, "pas de réponse au démarrage du chat")
                    await ws.send_str(json.dumps({"type": "end"}))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return Step("chat", False, time.monotonic() - t0, f"chat injoignable: {exc}")
        async with self.container.session_factory() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            if ticket is None:
                return Step("chat", False, time.monotonic() - t0, f"ticket {reference} introuvable")
            await self._note(session, ticket.id, "chat")
            await session.commit()
        return Step("chat", True, time.monotonic() - t0, "conversation ouverte", reference)

    async def _note(self, session: AsyncSession, ticket_id: int, what: str) -> None:
        tickets = await self.container.tickets(session)
        await tickets.add_note(ticket_id, SYSTEM, f"Ticket de test ({what}) créé par l'exercice de bascule "
                                                  f"n°{self.drill_id} : aucune action attendue.")

    # --- the record -------------------------------------------------------------------------

    async def _finish(self, steps: list[Step], seconds: float, switch_s: float | None, back_s: float | None,
                      error: str) -> m.Drill:
        passed = bool(steps) and all(s.ok for s in steps) and {"switchover", "call", "mail", "chat", "failback"} <= {
            s.name for s in steps} and not error
        now = utcnow()
        async with self.container.session_factory() as session:
            drill = await session.get(m.Drill, self.drill_id)
            assert drill is not None
            drill.ended_at, drill.seconds = now, round(seconds, 3)
            drill.switchover_seconds = None if switch_s is None else round(switch_s, 3)
            drill.failback_seconds = None if back_s is None else round(back_s, 3)
            drill.status = m.PASSED if passed else m.FAILED
            drill.checks = [s.out() for s in steps]
            drill.error = error
            journal.append(session, Fact(kind=EventKind.DRILL_DONE, occurred_at=now, data={
                "drill_id": drill.id, "ok": passed, "semester": drill.semester, "trigger": drill.trigger,
                "by": drill.started_by_name, "from": drill.from_site, "to": drill.target_site,
                "started_at": drill.started_at.isoformat(), "seconds": drill.seconds,
                "switchover_seconds": drill.switchover_seconds, "failback_seconds": drill.failback_seconds,
                "checks": {s.name: s.ok for s in steps}, "tickets": [s.ticket for s in steps if s.ticket],
                "call_ids": [s.call_id for s in steps if s.call_id],
            }), site=self.c.site)
            await session.commit()
        log.warning("drill %s %s in %.1fs: %s", self.drill_id, "passed" if passed else "FAILED", seconds,
                    ", ".join(f"{s.name}={'ok' if s.ok else 'KO'}" for s in steps))
        return drill


def drill_out(d: m.Drill) -> dict[str, Any]:
    return {"id": d.id, "plan_id": d.plan_id, "semester": d.semester, "trigger": d.trigger,
            "started_by": d.started_by, "started_by_name": d.started_by_name, "from_site": d.from_site,
            "target_site": d.target_site, "started_at": d.started_at, "ended_at": d.ended_at, "seconds": d.seconds,
            "switchover_seconds": d.switchover_seconds, "failback_seconds": d.failback_seconds, "status": d.status,
            "checks": d.checks, "error": d.error}


def plan_out(p: m.DrillPlan) -> dict[str, Any]:
    return {"id": p.id, "semester": p.semester, "planned_for": p.planned_for, "note": p.note, "status": p.status,
            "created_by": p.created_by, "created_at": p.created_at, "drill_id": p.drill_id}


def switchover_out(s: m.Switchover) -> dict[str, Any]:
    return {"id": s.id, "from_site": s.from_site, "to_site": s.to_site, "kind": s.kind, "reason": s.reason,
            "requested_by": s.requested_by, "detected_at": s.detected_at, "completed_at": s.completed_at,
            "seconds": s.seconds, "promoted": s.promoted, "promotion_seconds": s.promotion_seconds,
            "activation_seconds": s.activation_seconds, "epoch": s.epoch, "calls_lost": s.calls_lost,
            "drill_id": s.drill_id}


def site_out(s: m.FailoverSite) -> dict[str, Any]:
    return {"site": s.site, "state": s.state, "epoch": s.epoch, "healthy": s.healthy, "checks": s.checks,
            "peer_checks": s.peer_checks, "endpoints": s.endpoints, "started_at": s.started_at,
            "updated_at": s.updated_at, "activated_at": s.activated_at}
