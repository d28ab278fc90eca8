"""Query and body models of the indicators' and reports' API: months and days are checked
here (a real month or day, between 2000 and 2100), so a bad one is a 422 naming the field."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _month(value: str) -> str:
    from indicators.periods import parse_month

    parse_month(value)  # ValueError → 422
    return value


def _day(value: str) -> str:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"a day is written YYYY-MM-DD, not {value!r}") from None
    if not 2000 <= d.year <= 2100:
        raise ValueError("a day between 2000-01-01 and 2100-12-31")
    return value


Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"]), AfterValidator(_month)]
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-11-02"]), AfterValidator(_day)]


class DashboardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    end: Month | None = Field(None, description="last month shown, YYYY-MM (default: the last complete month)")
    months: int | None = Field(None, ge=1, le=60, description="rolling months (default 13)")


class DailyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: Day | None = Field(None, description="the point prod's day, YYYY-MM-DD (default: today); it covers "
                                              "the previous business day through the day before")
