"""Operators' ACD profile: their skills per audience (levels 1..5, higher preferred)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticket_core.db import Base


class OperatorSkill(Base):
    __tablename__ = "operator_skills"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    audience: Mapped[str] = mapped_column(ForeignKey("audiences.code"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=3)
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)
