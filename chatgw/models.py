"""Tables of live chat and of the public portal.

- ``chat_conversations``: one per chat, with its ticket (channel chat), its queue, who
  answered, and the SHA-256 of the user's resume token (the token itself is only ever in
  the user's browser).
- ``chat_messages``: the transcript, numbered per conversation (``seq``, unique with the
  conversation): a message is committed here before it is acknowledged or shown.
- ``satisfaction_invitations`` / ``satisfaction_answers``: the three-level survey (T8-IQ01),
  one answer per ticket, reached through tokenised links (hashed here like the chat tokens).
- ``portal_submissions``: every submission of the portal's mail form as received, beside
  the ticket it made (the portal has no model module of its own: ``guichet.schema`` loads
  this one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, JSONType, UTCDateTime
from ticket_core.models import BigId

RATINGS = ("tres_satisfait", "satisfait", "insatisfait")


class ChatConversation(Base):
    __tablename__ = "chat_conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    site: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    audience: Mapped[str] = mapped_column(ForeignKey("audiences.code"))
    status: Mapped[str] = mapped_column(String(10), index=True)  # waiting | active | ended
    visitor_name: Mapped[str] = mapped_column(String(120), default="")
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))
    __table_args__ = (CheckConstraint("status IN ('waiting', 'active', 'ended')", name="status"),)


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(10))  # user | operator | system
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))  # the sender's id, for retries
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        CheckConstraint("sender IN ('user', 'operator', 'system')", name="sender"),
    )


class SatisfactionInvitation(Base):
    __tablename__ = "satisfaction_invitations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # chat | mail | link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SatisfactionAnswer(Base):
    __tablename__ = "satisfaction_answers"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(10))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("rating IN ('tres_satisfait', 'satisfait', 'insatisfait')", name="rating"),
    )


class PortalSubmission(Base):
    __tablename__ = "portal_submissions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[str] = mapped_column(Text)  # the request body as received (size-limited)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
