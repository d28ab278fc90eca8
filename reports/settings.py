"""Report settings (``GUICHET_REPORTS_*`` or the ``[reports]`` table of the settings file)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The schedule runs with the main job (``guichet serve``).
    schedule: bool = True
    #: Daily point prod, every business day at this local time (it covers the previous
    #: business day through yesterday).
    daily_time: str = "07:00"
    #: Monthly report: on the n-th business day of the month (the contract wants it before
    #: the 10th and at least 3 business days before the steering committee), at this time.
    monthly_business_day: int = Field(2, ge=1, le=7)
    monthly_time: str = "07:30"
    #: Who receives the scheduled reports by mail (through the mail gateway's outbox);
    #: comma-separated addresses, empty: nobody.
    daily_recipients: list[str] = Field(default_factory=list)
    monthly_recipients: list[str] = Field(default_factory=list)
    #: How often the schedule looks at the clock (seconds).
    tick_seconds: float = Field(30.0, gt=0, le=3600)
    #: Rows of the escalations-in-progress table of the report (all are in the XLSX).
    escalations_listed: int = Field(25, ge=1, le=500)
    #: LibreOffice's ``soffice`` for the validated PDF edition (empty: found on the PATH).
    soffice: str = ""
    #: Words on the cover page.
    service_name: str = "Assistance aux utilisateurs de Télérecours — support de niveau 1"
    recipient: str = "Conseil d'État — Direction des systèmes d'information"
    contractor: str = "Titulaire du marché de support de niveau 1"

    @field_validator("daily_recipients", "monthly_recipients", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        from ticket_core.services import normalise_email

        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        out = []
        for item in value or []:
            address = normalise_email(str(item).strip())
            if address is None:
                raise ValueError(f"not a mail address: {item!r}")
            out.append(address)
        return out

    @field_validator("daily_time", "monthly_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"expected HH:MM, not {value!r}")
        return value.strip()


def load_report_settings(overrides: dict | None = None) -> ReportSettings:
    from guichet.settings import load_section

    return load_section(ReportSettings, "reports", overrides)
