"""The configurable definitions of SPEC §6 (``GUICHET_INDICATORS_*`` or the ``[indicators]``
table of the settings file), with the defaults SPEC gives. The definitions page shows the
values in force; ``definitions.py`` words them in French.

The business-hour clocks of mails (1 HO) and tickets (2 HO / 4 HO) are *not* here: they are
the ticket core's settings (``GUICHET_SLA_*``), applied when a ticket is written and stored on
it (``taken_in_charge_due_at``, ``handling_due_at``); the indicators compare those columns.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class IndicatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- calls (T2-IQ01…04) ---------------------------------------------------------------
    #: Abandons after a wait strictly shorter than this are misdials: excluded from every
    #: phone numerator and denominator. 0: none excluded.
    short_abandon_seconds: float = Field(0.0, ge=0, le=600)
    #: "Answered in under N seconds": wait strictly below N (an answer at exactly N s is late).
    pickup_seconds: float = Field(40.0, gt=0, le=3600)
    #: A virtual-hold acceptance ("callback requested", journaled as ``call_lost`` with
    #: reason ``callback_requested``) counts as an abandonment in T2-IQ02.
    callback_requested_is_abandoned: bool = False
    #: Calls hung up in the voice menu (received, never presented) count as lost calls in
    #: T2-IQ04. They always count as received and not answered in T2-IQ03.
    ivr_hangups_are_lost: bool = False
    #: A lost call is recovered until the end of the N-th next business day (1: the next).
    recovery_business_days: int = Field(1, ge=1, le=10)

    # --- tickets --------------------------------------------------------------------------
    #: Tickets never qualified (no priority) are measured as "normal" (3–5) in T2-IQ09, as
    #: their handling clock is (4 HO by default). False: left out of T2-IQ08 and T2-IQ09.
    unqualified_as_normal: bool = True

    # --- availability and opening (T1-IQ01/02), drills (T3-IQ03) --------------------------
    #: Probe checks that make the platform available (comma-separated ``check`` names of
    #: ``probe_result`` facts); empty: every check recorded.
    availability_checks: str = ""
    #: A failing probe makes the platform unavailable until the next probe of the same check,
    #: at most this long (longer gaps are counted as unobserved, not as unavailable).
    probe_max_gap_seconds: float = Field(900.0, gt=0)
    #: Opening (closing) on time: a ``service_opened`` (``service_closed``) fact within this
    #: many seconds of the calendar's opening (closing).
    opening_tolerance_seconds: float = Field(60.0, ge=0, le=3600)
    #: Switchover drills expected per semester (T3-IQ03) when the failover module's drill
    #: calendar plans none for the semester; unset: the failover module's own setting
    #: (``GUICHET_FAILOVER_DRILLS_PER_SEMESTER``), or 1 without the failover module.
    drills_per_semester: int | None = Field(None, ge=0, le=26)

    # --- operational figures ------------------------------------------------------------
    #: The yearly ticket package (SPEC §7) and its extension.
    package_tickets: int = Field(12000, gt=0)
    extension_tickets: int = Field(500, gt=0)
    #: First month (1–12) of the contract year the package is counted on.
    package_year_start_month: int = Field(1, ge=1, le=12)
    #: Duplicates merged into another ticket count in the package and the volumes.
    count_merged_duplicates: bool = False
    #: A state of an operator lasting longer than this (a missing logout) is cut there.
    max_state_hours: float = Field(12.0, gt=0, le=24)

    # --- presentation ---------------------------------------------------------------------
    #: Rolling months shown (each with the same month a year before).
    months: int = Field(13, ge=1, le=60)
    #: Computed figures are reused this long (seconds) by the pages and the API; 0: never.
    #: (At 100× volume the 25 months take tens of seconds on SQLite, a few on PostgreSQL.)
    cache_seconds: float = Field(300.0, ge=0)

    @field_validator("availability_checks")
    @classmethod
    def _checks(cls, value: str) -> str:
        return ",".join(sorted({c.strip() for c in value.split(",") if c.strip()}))

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(c for c in self.availability_checks.split(",") if c)


def load_indicator_settings(overrides: dict | None = None) -> IndicatorSettings:
    from guichet.settings import load_section

    return load_section(IndicatorSettings, "indicators", overrides)
