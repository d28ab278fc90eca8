"""The audit log of personal data: every read and change by a person is traced (R-GDPR).

Written in the same transaction as the access it describes; for reads the route commits
it before answering, so an answered read is always traced."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticket_core.db import utcnow
from ticket_core.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    user_id: int | None,
    username: str,
    action: str,
    subject_type: str,
    subject_id: object,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=utcnow(), user_id=user_id, username=username, action=action,
        subject_type=subject_type, subject_id=str(subject_id), detail=detail or {},
        remote_addr=remote_addr,
    )
    session.add(entry)
    return entry
