"""Settings: environment variables (prefix ``GUICHET_``) over one optional TOML file.

Validated once at start. An invalid value stops the start with a message that names the
setting, so an operator fixing a deployment never has to read a traceback.
Secrets come from the environment only; the settings file is for everything else.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ticket_core.business_time import OpeningHours, parse_opening_hours

DEFAULT_DATA_DIR = Path(os.environ.get("GUICHET_DATA_DIR", "var"))


class SettingsError(Exception):
    """Raised with a human-readable message naming each bad setting."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- storage ---------------------------------------------------------------------
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""  # default: SQLite file in data_dir (embedded default)

    # --- web / API --------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    session_hours: float = Field(12.0, gt=0)
    admin_username: str = "admin"
    admin_password: str = ""  # from the environment; printed once when generated

    # --- identity of this site (failover pairs have two) ---------------------------
    site: str = "primary"
    ticket_prefix: str = Field("GU", pattern=r"^[A-Z]{2,5}$")

    # --- business calendar (SPEC §3) ------------------------------------------------
    timezone: str = "Europe/Paris"
    opening_days: str = "mon,tue,wed,thu,fri"
    opening_time: str = "08:30"
    closing_time: str = "17:30"

    # --- service-level clocks, in business hours (SPEC §6) ----------------------------
    sla_critical_hours: float = Field(2.0, gt=0)  # priority 1-2 handled or escalated
    sla_normal_hours: float = Field(4.0, gt=0)  # priority 3-5 handled or escalated
    sla_mail_hours: float = Field(1.0, gt=0)  # mail taken in charge

    # --- site pair (failover/): this site waits to be made active by the failover module
    failover: bool = False

    # --- telephony: Asterisk + the Stasis application ----------------------------------
    telephony: bool = True  # start Asterisk and the Stasis app with the main job
    asterisk_prefix: Path = Path("/opt/guichet/asterisk")
    asterisk_manage: bool = True  # False: Asterisk is run by someone else (production)
    ari_host: str = "127.0.0.1"
    ari_port: int = Field(8088, ge=1, le=65535)
    ari_username: str = "guichet"
    ari_password: str = ""  # from the environment; generated into data_dir when empty
    stasis_app: str = Field("guichet", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(5060, ge=1, le=65535)
    # The digest realm of softphone accounts: each account's HA1 is computed with it (and
    # stored with it), so changing it applies to accounts created or reset afterwards.
    sip_realm: str = Field("guichet", pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    rtp_start: int = Field(10000, ge=1024, le=65000)
    rtp_end: int = Field(10200, ge=1024, le=65535)
    support_number: str = Field("3900", pattern=r"^[0-9]{2,15}$")
    ivr_timeout: float = Field(10.0, gt=0, le=120)  # seconds after the menu starts
    default_audience: str = "citoyen"  # IVR timeout or invalid digit
    announce_every: float = Field(30.0, ge=0)  # position announcement period; 0: never
    ring_timeout: float = Field(20.0, gt=0, le=300)
    wrap_up_seconds: float = Field(30.0, ge=0, le=3600)
    overflow_after: float = Field(120.0, ge=0)
    max_wait: float = Field(0.0, ge=0)  # 0: no cut
    max_missed_rings: int = Field(2, ge=0)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'guichet.sqlite3').resolve()}"

    @property
    def opening_hours(self) -> OpeningHours:
        try:
            return parse_opening_hours(
                self.opening_time, self.closing_time, self.opening_days, self.timezone
            )
        except ValueError as exc:
            raise ValueError(f"GUICHET_OPENING_TIME/CLOSING_TIME/OPENING_DAYS: {exc}") from None


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Build settings from the TOML file (``GUICHET_SETTINGS_FILE``), the environment
    and explicit overrides (highest precedence), or raise ``SettingsError``."""
    file_values: dict[str, Any] = {}
    settings_file = os.environ.get("GUICHET_SETTINGS_FILE")
    if settings_file:
        path = Path(settings_file)
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SettingsError(f"GUICHET_SETTINGS_FILE: {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"GUICHET_SETTINGS_FILE: {path} is not valid TOML: {exc}") from exc
    # Unknown GUICHET_* variables are ignored (tools share the prefix); unknown keys in
    # the settings file are errors, since there they can only be typos.
    env_values = {
        key[len("GUICHET_") :].lower(): value
        for key, value in os.environ.items()
        if key.startswith("GUICHET_") and key[len("GUICHET_") :].lower() in Settings.model_fields
    }
    values = {**file_values, **env_values, **(overrides or {})}
    try:
        settings = Settings.model_validate(values)
        settings.opening_hours  # noqa: B018 - validates the calendar strings now, not later
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"GUICHET_{name.upper()}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from exc
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
    return settings


def load_section(model: type[BaseModel], prefix: str, overrides: dict[str, Any] | None = None) -> Any:
    """Settings of one package (``mailgw``, ``chatgw``…), kept in that package: the TOML
    table ``[prefix]`` of the settings file, then ``GUICHET_<PREFIX>_<NAME>`` variables,
    then ``overrides``. Errors name the variable, like ``load_settings``."""
    file_values: dict[str, Any] = {}
    settings_file = os.environ.get("GUICHET_SETTINGS_FILE")
    if settings_file and Path(settings_file).exists():
        try:
            file_values = tomllib.loads(Path(settings_file).read_text(encoding="utf-8")).get(prefix, {})
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"GUICHET_SETTINGS_FILE: not valid TOML: {exc}") from exc
    env_prefix = f"GUICHET_{prefix.upper()}_"
    env_values = {
        key[len(env_prefix):].lower(): value
        for key, value in os.environ.items()
        if key.startswith(env_prefix) and key[len(env_prefix):].lower() in model.model_fields
    }
    try:
        return model.model_validate({**file_values, **env_values, **(overrides or {})})
    except ValidationError as exc:
        lines = [f"{env_prefix}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from exc
