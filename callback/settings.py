"""Callback settings (``GUICHET_CALLBACK_*`` or the ``[callback]`` table)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallbackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # A lost call is called back this long (business time) after it was lost: the user
    # often calls again first, which recovers it with no callback.
    delay_seconds: float = Field(300.0, ge=0)
    # No callback is started this close to closing time: it waits for the next opening.
    cutoff_before_close_seconds: float = Field(900.0, ge=0)
    max_attempts: int = Field(3, ge=1, le=10)
    retry_spacing_seconds: float = Field(900.0, ge=0)
    user_ring_timeout: int = Field(30, ge=5, le=120)
    # Virtual hold: after this wait the caller is offered a callback (0: never).
    virtual_hold_after: float = Field(60.0, ge=0)
    # How the user's number is dialled: the carrier trunk in production.
    dial_template: str = "PJSIP/{number}@trunk"
    # The number the user sees: the support number.
    caller_id_name: str = "Assistance Telerecours"
    scan_seconds: float = Field(2.0, gt=0)
