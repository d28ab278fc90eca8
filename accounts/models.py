"""Users and their login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base, UTCDateTime

ROLES = ("operator", "supervisor", "auditor", "admin")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Operators: the PJSIP endpoint of their softphone (acd/ routes calls to it).
    sip_endpoint: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The softphone's digest credential, never the secret itself: HA1 = MD5(endpoint:realm:
    # secret) (RFC 2617), which is all Asterisk needs to check a registration
    # (``password_digest`` in pjsip.conf). The secret is shown once, when it is set.
    sip_realm: Mapped[str | None] = mapped_column(String(60))
    sip_ha1: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'supervisor', 'auditor', 'admin')", name="role"),
    )


class LoginSession(Base):
    """An opaque token handed to the client; only its SHA-256 is stored, so a database
    dump cannot be replayed as logins."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
