"""Settings of the console and the wallboard (``GUICHET_CONSOLE_*`` or the ``[console]``
table of the settings file).

The definitions the wallboard shares with the monthly indicators (pickup threshold,
short-abandon threshold, whether a virtual-hold acceptance counts as an abandonment) are
read from the indicators' settings (``GUICHET_INDICATORS_*``) when that package is
installed, so the wallboard's "service level today" and the monthly T2-IQ01 agree; a
value set here wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Between instances: ``auto`` = PostgreSQL LISTEN/NOTIFY when the database is
    #: PostgreSQL, in process otherwise; ``local`` = in process only (one instance).
    bus: Literal["auto", "local", "postgresql"] = "auto"
    #: The LISTEN/NOTIFY channel (one per deployment sharing a database).
    channel: str = Field("guichet_console", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    #: Figures that change without an ACD event (mails, chats, callbacks) are refreshed
    #: this often while somebody watches (seconds).
    refresh_seconds: float = Field(5.0, ge=0.5, le=300)
    #: The ACD instance republishes its snapshot this often even when nothing happens.
    snapshot_every: float = Field(5.0, ge=0.5, le=300)
    #: A snapshot older than this is shown as "live data unavailable".
    stale_after: float = Field(20.0, ge=1, le=3600)
    #: SSE comment sent on quiet streams, and session re-check period (seconds).
    heartbeat_seconds: float = Field(15.0, ge=1, le=300)

    # --- targets and alerts --------------------------------------------------------------
    service_level_target: float = Field(0.80, gt=0, le=1)
    abandonment_target: float = Field(0.10, ge=0, le=1)
    #: Alert when a caller has waited longer than this (seconds).
    alert_wait_seconds: float = Field(40.0, gt=0)
    #: Alert when calls wait and no operator with the skill is available.
    alert_no_operator: bool = True
    #: A mail whose remaining business time to its target is under this is "soon late".
    mail_warning_seconds: float = Field(900.0, ge=0)
    #: Service-level and abandonment alerts need at least this many calls decided today.
    alert_min_calls: int = Field(1, ge=1)

    # --- definitions shared with the indicators (None: the indicators' value) ------------
    pickup_seconds: float | None = Field(None, gt=0, le=3600)
    short_abandon_seconds: float | None = Field(None, ge=0, le=600)
    callback_requested_is_abandoned: bool | None = None

    #: Pause reasons offered in the console (code:label, comma-separated).
    pause_reasons: str = ("pause:Pause,formation:Formation,reunion:Réunion,"
                          "administratif:Tâche administrative,courriels:Traitement des courriels")

    @property
    def pause_choices(self) -> list[tuple[str, str]]:
        out = []
        for item in self.pause_reasons.split(","):
            code, _, label = item.partition(":")
            if code.strip():
                out.append((code.strip(), (label or code).strip()))
        return out


@dataclass(frozen=True)
class Definitions:
    """What "answered in time", "abandoned" mean today — the same as the indicators'."""

    pickup_seconds: float = 40.0
    short_abandon_seconds: float = 0.0
    callback_requested_is_abandoned: bool = False
    service_level_target: float = 0.80
    abandonment_target: float = 0.10
    alert_wait_seconds: float = 40.0
    alert_no_operator: bool = True
    mail_warning_seconds: float = 900.0
    alert_min_calls: int = 1


def load_console_settings(overrides: dict | None = None) -> ConsoleSettings:
    from guichet.settings import load_section

    return load_section(ConsoleSettings, "console", overrides)


def definitions(settings: ConsoleSettings) -> Definitions:
    base: dict = {}
    try:
        from indicators.settings import load_indicator_settings
    except ImportError:  # the indicators package is optional here
        pass
    else:
        ind = load_indicator_settings()
        base = {"pickup_seconds": ind.pickup_seconds, "short_abandon_seconds": ind.short_abandon_seconds,
                "callback_requested_is_abandoned": ind.callback_requested_is_abandoned}
    for name in ("pickup_seconds", "short_abandon_seconds", "callback_requested_is_abandoned"):
        value = getattr(settings, name)
        if value is not None:
            base[name] = value
    return Definitions(
        **base,
        service_level_target=settings.service_level_target,
        abandonment_target=settings.abandonment_target,
        alert_wait_seconds=settings.alert_wait_seconds,
        alert_no_operator=settings.alert_no_operator,
        mail_warning_seconds=settings.mail_warning_seconds,
        alert_min_calls=settings.alert_min_calls,
    )
