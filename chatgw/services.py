"""The chat gateway's service layer: what is written to the database, in which
transaction, with which journal facts.

- ``start_conversation``: the requester (when a mail address is given), the ticket
  (channel ``chat``, the first message as its description), the conversation and its first
  message, and the ``chat_started`` fact — one transaction, committed before the user is
  told anything.
- ``MessageWriter``: every later message goes through one writer task that numbers it in
  its conversation (``seq``) and commits it, grouping the messages that arrive while a
  commit is running into the next one (group commit). A message is acknowledged and shown
  only once its commit is done.
- ``record_answered`` / ``record_requeued`` / ``record_ended``: the dispatcher's decisions
  made durable (conversation row, ticket assignment, ``chat_answered`` / ``chat_ended``
  facts, the transcript added to the ticket as a note, the satisfaction invitation).
- Surveys: tokenised invitations per ticket and one answer per ticket, journaled as
  ``survey_answered`` {rating} (the comment stays out of the journal: it may hold personal
  data).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chatgw import strings
from chatgw.exceptions import MessageNotSaved, SurveyAlreadyAnswered, SurveyNotFound
from chatgw.models import (
    RATINGS,
    ChatConversation,
    ChatMessage,
    SatisfactionAnswer,
    SatisfactionInvitation,
)
from ticket_core import journal
from ticket_core.exceptions import InvalidValue
from ticket_core.journal import EventKind, Fact
from ticket_core.models import Ticket
from ticket_core.services import SYSTEM, Actor, TicketService

log = logging.getLogger("guichet.chat")

RATING_LABELS = {"tres_satisfait": "Très satisfait", "satisfait": "Satisfait", "insatisfait": "Insatisfait"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _fact(session: AsyncSession, site: str, kind: EventKind, conv: ChatConversation, at: datetime, *,
          operator_id: int | None = None, **data: Any) -> None:
    journal.append(session, Fact(kind=kind, occurred_at=at, channel="chat", ticket_id=conv.ticket_id,
                                 operator_id=operator_id, queue=conv.audience,
                                 data={"conversation": conv.public_id, **data}), site=site)


# --- starting a chat ------------------------------------------------------------------------


@dataclass
class StartedChat:
    conversation: ChatConversation
    ticket: Ticket
    token: str
    first_message: ChatMessage


async def start_conversation(
    session: AsyncSession, tickets: TicketService, *, site: str, audience: str, message: str,
    name: str = "", email: str | None = None, client_id: str | None = None, now: datetime,
) -> StartedChat:
    """Ticket, conversation, first message and ``chat_started``, in the caller's
    transaction (the caller commits)."""
    requester = None
    if email:
        requester = await tickets.find_or_create_requester(email=email, audience=audience, display_name=name)
    public_id = uuid.uuid4().hex
    ticket = await tickets.create_ticket(
        channel="chat", audience=audience, requester_id=requester.id if requester else None,
        subject=strings.TICKET_SUBJECT.format(text=textwrap.shorten(" ".join(message.split()), 120, placeholder="…")),
        description=message, source_ref=f"chat:{public_id}", received_at=now,
    )
    token = new_token()
    conv = ChatConversation(public_id=public_id, token_hash=hash_token(token), site=site, ticket_id=ticket.id,
                            audience=audience, status="waiting", visitor_name=name[:120], entered_at=now)
    session.add(conv)
    await session.flush()
    first = ChatMessage(conversation_id=conv.id, seq=1, sender="user", body=message, client_id=client_id,
                        created_at=now)
    session.add(first)
    _fact(session, site, EventKind.CHAT_STARTED, conv, now)
    await session.flush()
    return StartedChat(conv, ticket, token, first)


async def conversation_by_token(session: AsyncSession, token: str) -> ChatConversation | None:
    return await session.scalar(select(ChatConversation).where(ChatConversation.token_hash == hash_token(token)))


async def open_conversations(session: AsyncSession, site: str) -> list[ChatConversation]:
    """Waiting and active chats of this site (to rebuild the queue after a restart)."""
    return list(await session.scalars(
        select(ChatConversation).where(ChatConversation.status != "ended", ChatConversation.site == site)
        .order_by(ChatConversation.entered_at, ChatConversation.id)))


async def messages_of(session: AsyncSession, conversation_id: int, after_seq: int = 0) -> list[ChatMessage]:
    return list(await session.scalars(
        select(ChatMessage).where(ChatMessage.conversation_id == conversation_id, ChatMessage.seq > after_seq)
        .order_by(ChatMessage.seq)))


async def last_seq(session: AsyncSession, conversation_id: int) -> int:
    return await session.scalar(
        select(func.coalesce(func.max(ChatMessage.seq), 0)).where(ChatMessage.conversation_id == conversation_id)
    ) or 0


def message_out(m: ChatMessage) -> dict[str, Any]:
    return {"seq": m.seq, "from": m.sender, "text": m.body, "at": m.created_at.isoformat(),
            **({"id": m.client_id} if m.client_id else {})}


def render_transcript(conv: ChatConversation, messages: list[ChatMessage], zone: ZoneInfo,
                      operator_names: dict[int, str] | None = None) -> str:
    names = operator_names or {}
    start = conv.entered_at.astimezone(zone)
    lines = [strings.TRANSCRIPT_TITLE.format(conversation=conv.public_id, date=start.strftime("%d/%m/%Y"))]
    for m in messages:
        label = strings.SENDER_LABELS.get(m.sender, m.sender)
        if m.sender == "operator" and m.operator_id in names:
            label = f"{label} ({names[m.operator_id]})"
        lines.append(f"[{m.created_at.astimezone(zone):%H:%M:%S}] {label} : {m.body}")
    return "\n".join(lines)


# --- the dispatcher's decisions, made durable -------------------------------------------------------


async def record_answered(session: AsyncSession, tickets: TicketService, conv: ChatConversation, *,
                          site: str, operator: Actor, at: datetime, wait_seconds: float, attempt: int,
                          overflow: bool, reassigned: bool) -> None:
    conv.status, conv.operator_id = "active", operator.user_id
    conv.answered_at = conv.answered_at or at
    await tickets.assign(conv.ticket_id, operator.user_id, operator)  # also "taken in charge"
    _fact(session, site, EventKind.CHAT_ANSWERED, conv, at, operator_id=operator.user_id,
          wait_seconds=round(wait_seconds, 3), attempt=attempt, overflow=overflow, reassigned=reassigned)


async def record_requeued(session: AsyncSession, conv: ChatConversation) -> None:
    conv.status, conv.operator_id = "waiting", None


async def record_ended(session: AsyncSession, tickets: TicketService, conv: ChatConversation, *, site: str,
                       at: datetime, reason: str, answered: bool, wait_seconds: float,
                       talk_seconds: float | None, operator_id: int | None, zone: ZoneInfo,
                       operator_names: dict[int, str]) -> str | None:
    """Close the conversation, journal ``chat_ended``, add the transcript to the ticket;
    returns a satisfaction-survey token when someone answered the chat."""
    conv.status, conv.ended_at, conv.end_reason = "ended", at, reason
    messages = await messages_of(session, conv.id)
    counts = {s: sum(1 for m in messages if m.sender == s) for s in ("user", "operator")}
    _fact(session, site, EventKind.CHAT_ENDED, conv, at, operator_id=operator_id, reason=reason, answered=answered,
          wait_seconds=round(wait_seconds, 3),
          talk_seconds=round(talk_seconds, 3) if talk_seconds is not None else None,
          messages_user=counts["user"], messages_operator=counts["operator"])
    await tickets.add_note(conv.ticket_id, SYSTEM, render_transcript(conv, messages, zone, operator_names))
    if not answered:
        return None
    return await issue_survey(session, conv.ticket_id, source="chat", now=at)


# --- messages: durable before acknowledged, with group commit ----------------------------------------


@dataclass(eq=False)
class _Pending:
    conversation_id: int | None  # None: a barrier
    sender: str = ""
    operator_id: int | None = None
    body: str = ""
    client_id: str | None = None
    created_at: datetime | None = None
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    seq: int = 0


class MessageWriter:
    """Numbers and commits messages in arrival order, many per transaction when they
    arrive while a commit runs. ``append`` returns ``(seq, created_at)`` once committed, or
    raises ``MessageNotSaved`` (nothing of that batch was saved; the sender may retry with
    the same client id). Numbers only grow: increasing, unique, gaps possible after a
    failed batch."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Callable[[], datetime],
                 max_batch: int = 500) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.max_batch = max_batch
        self._next: dict[int, int] = {}
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.batches = 0
        self.messages = 0

    def track(self, conversation_id: int, last: int) -> None:
        self._next[conversation_id] = max(self._next.get(conversation_id, 1), last + 1)

    def reserve(self, conversation_id: int) -> int:
        """The next number of a conversation, for a message its caller writes in its own
        transaction (system messages written with a state change)."""
        seq = self._next[conversation_id]
        self._next[conversation_id] = seq + 1
        return seq

    def forget(self, conversation_id: int) -> None:
        self._next.pop(conversation_id, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="chat-message-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None

    async def append(self, conversation_id: int, sender: str, body: str, *, operator_id: int | None = None,
                     client_id: str | None = None) -> tuple[int, datetime]:
        if self._task is None:
            raise MessageNotSaved("the message writer is not running")
        item = _Pending(conversation_id, sender, operator_id, body, client_id, self.clock(),
                        asyncio.get_running_loop().create_future())
        self._queue.put_nowait(item)
        return await item.future

    async def barrier(self) -> None:
        """Returns once every message appended before it is committed (or failed)."""
        if self._task is None:
            return
        item = _Pending(None, future=asyncio.get_running_loop().create_future())
        self._queue.put_nowait(item)
        await item.future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                await self._write(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive any one batch
                log.exception("chat message batch failed")
            if stop:
                return

    async def _write(self, batch: list[_Pending]) -> None:
        rows, written = [], []
        for item in batch:
            cid = item.conversation_id
            if cid is None:
                continue
            if cid not in self._next:
                item.future.set_exception(MessageNotSaved("conversation closed"))
                continue
            item.seq = self._next[cid]
            self._next[cid] += 1
            rows.append({"conversation_id": cid, "seq": item.seq, "sender": item.sender,
                         "operator_id": item.operator_id, "body": item.body, "client_id": item.client_id,
                         "created_at": item.created_at})
            written.append(item)
        try:
            if rows:
                async with self.session_factory() as session:
                    await session.execute(insert(ChatMessage), rows)
                    await session.commit()
        except Exception as exc:  # noqa: BLE001 - reported to each sender
            # The numbers of a failed batch are not reused (a number may have been reserved
            # since): a conversation's sequence may have a gap, never a duplicate.
            log.warning("chat messages not saved (%d): %s", len(rows), exc)
            for item in written:
                if not item.future.done():
                    item.future.set_exception(MessageNotSaved("not saved"))
        else:
            self.batches += 1 if rows else 0
            self.messages += len(rows)
            for item in written:
                if not item.future.done():
                    item.future.set_result((item.seq, item.created_at))
        for item in batch:
            if item.conversation_id is None and not item.future.done():
                item.future.set_result(None)


# --- satisfaction survey (T8-IQ01) -------------------------------------------------------------------


async def issue_survey(session: AsyncSession, ticket_id: int, *, source: str, now: datetime) -> str:
    """A new tokenised link for this ticket (``/enquete/<token>``); several links may point
    to one ticket (a mail, the end of a chat), which is answered once."""
    token = new_token()
    session.add(SatisfactionInvitation(ticket_id=ticket_id, token_hash=hash_token(token), source=source[:10],
                                       created_at=now))
    await session.flush()
    return token


@dataclass
class SurveyView:
    invitation: SatisfactionInvitation
    ticket: Ticket
    answer: SatisfactionAnswer | None


async def survey_by_token(session: AsyncSession, token: str) -> SurveyView:
    invitation = await session.scalar(
        select(SatisfactionInvitation).where(SatisfactionInvitation.token_hash == hash_token(token)))
    if invitation is None:
        raise SurveyNotFound("unknown or expired survey link", field="token")
    ticket = await session.get(Ticket, invitation.ticket_id)
    answer = await session.get(SatisfactionAnswer, invitation.ticket_id)
    return SurveyView(invitation, ticket, answer)


async def answer_survey(session: AsyncSession, token: str, *, rating: str, comment: str, now: datetime,
                        site: str, max_comment: int = 2000) -> SatisfactionAnswer:
    if rating not in RATINGS:
        raise InvalidValue(f"rating must be one of {', '.join(RATINGS)}", field="rating")
    if len(comment) > max_comment:
        raise InvalidValue(f"the comment is limited to {max_comment} characters", field="comment")
    view = await survey_by_token(session, token)
    if view.answer is not None:
        raise SurveyAlreadyAnswered("this survey was already answered", field="token")
    answer = SatisfactionAnswer(ticket_id=view.ticket.id, rating=rating, comment=comment.strip(),
                                source=view.invitation.source, answered_at=now)
    session.add(answer)
    journal.append(session, Fact(kind=EventKind.SURVEY_ANSWERED, occurred_at=now, channel=view.ticket.channel,
                                 ticket_id=view.ticket.id, queue=view.ticket.audience_code,
                                 data={"rating": rating, "source": view.invitation.source}), site=site)
    await session.flush()
    return answer
