"""Settings of the site pair: the ``[failover]`` table of the settings file or
``GUICHET_FAILOVER_*`` variables (``GUICHET_FAILOVER_PEER_URL=http://…``), validated at
start. The failover module runs only when ``GUICHET_FAILOVER=1`` (the main settings).

Durations are in seconds. The defaults suit production on two sites; the tests shorten
them. Database DSNs may carry a password: give them in the environment, not the file.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CHECKS = ("app", "ari", "sip", "database", "smtp", "chat")


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class FailoverSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- the pair -------------------------------------------------------------------------
    #: The site that is active by default: it takes a free lease at once; the other one
    #: takes over only when this one fails (or on request).
    preferred_site: str = Field("primary", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    #: The other site's name (``GUICHET_SITE`` over there).
    peer_site: str = Field("backup", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    #: The other site's application (``http://host:port``): its ``/api/v1/failover/health``.
    peer_url: str = ""
    #: The other site's SIP address (``host:port``) and SMTP intake (``host:port``), probed
    #: directly so a failure of its Asterisk or its mail intake is seen even when its
    #: application still answers. Empty: not probed.
    peer_sip_address: str = ""
    peer_smtp_address: str = ""

    # --- PostgreSQL: the streaming pair --------------------------------------------------
    #: This site's own PostgreSQL server (``postgresql://user@host:port/db``): on the backup
    #: site, the standby promoted at a switchover (``SELECT pg_promote()``: the role needs
    #: ``GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer)``). Empty: no promotion (one
    #: database reached by both sites, or SQLite on one machine).
    local_database_dsn: str = ""
    #: The other site's PostgreSQL server, probed: the standby is promoted only when this
    #: server has failed ``failures_to_switch`` probes in a row.
    peer_database_dsn: str = ""
    promote: bool = True

    # --- what this site publishes about itself (drills reach it there) -------------------
    #: Defaults: the SIP and HTTP settings of this site, the mail gateway's SMTP intake.
    sip_address: str = ""
    smtp_address: str = ""
    http_url: str = ""

    # --- health checks ---------------------------------------------------------------------
    probe_interval: float = Field(5.0, gt=0, le=300)
    probe_timeout: float = Field(2.0, gt=0, le=60)
    #: Checks run on this site (subset of app, ari, sip, database, smtp, chat).
    checks: list[str] = Field(default_factory=lambda: list(CHECKS))
    #: Checks whose failure makes a site unfit to serve (and triggers a switchover).
    critical_checks: list[str] = Field(default_factory=lambda: ["app", "ari", "sip", "database"])
    #: SMTP and chat (not critical) are probed this often (each SMTP probe is a session in
    #: the intake's log); 0: every round.
    slow_checks_every: float = Field(30.0, ge=0)
    #: ``probe_result`` facts (T1-IQ01): each check of the active site at least this often,
    #: and at once when its result changes.
    record_every: float = Field(60.0, gt=0)

    # --- switchover rules (rules.py) -------------------------------------------------------
    #: A site is failed after this many failed probe rounds in a row…
    failures_to_switch: int = Field(3, ge=1, le=100)
    #: …all within this many seconds (older failures do not count).
    failure_window: float = Field(60.0, gt=0)
    #: No automatic switchover sooner than this after the last one (hold-down: no flapping).
    #: A site whose lease has expired is always replaced: someone must serve.
    min_seconds_between_switchovers: float = Field(600.0, ge=0)
    #: The preferred site takes the service back by itself once it has been healthy this
    #: long (off by default: failback is a supervisor's decision).
    auto_failback: bool = False
    failback_after: float = Field(1800.0, ge=0)

    # --- fencing (fencing.py) ----------------------------------------------------------------
    #: Lease of the ACD: renewed every ttl/3 by the active site, which deactivates itself
    #: when it could not renew for ttl - margin seconds. The other site takes it ttl after
    #: the last renewal.
    lease_ttl: float = Field(15.0, ge=1, le=600)
    lease_margin: float = Field(2.0, ge=0)
    #: A requested handover (manual switchover, failback, drill) lapses after this long.
    handover_timeout: float = Field(60.0, gt=0)
    #: How long a site waits for the ACD and telephony to start when it takes over.
    activation_timeout: float = Field(60.0, gt=0)

    # --- takeover ------------------------------------------------------------------------------
    #: Operators logged in on the failed site are logged in here (their softphones register
    #: to both sites); paused ones stay paused.
    carry_over_operators: bool = True
    #: Calls cut while being answered are called back too (calls not answered always are).
    callback_cut_calls: bool = True

    # --- drills ---------------------------------------------------------------------------------
    drills_per_semester: int = Field(2, ge=0, le=26)
    #: Planned drills are started by the active site when due (otherwise by a supervisor).
    auto_run_drills: bool = False
    drill_caller_number: str = Field("0999999999", pattern=r"^\+?[0-9]{3,15}$")
    drill_ivr_digit: str = Field("", pattern=r"^[0-9]?$")  # empty: the IVR's default audience
    drill_audience: str = "citoyen"  # of the test chat
    drill_mail_from: str = ""  # default: exercice-bascule@<the support address's domain>
    drill_call_timeout: float = Field(120.0, gt=0)  # until an operator answered (ticket)
    drill_switch_timeout: float = Field(180.0, gt=0)  # each way

    @field_validator("checks", "critical_checks", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("checks", "critical_checks")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in CHECKS]
        if unknown:
            raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECKS)}")
        return value

    @field_validator("peer_url", "http_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("peer_sip_address", "peer_smtp_address", "sip_address", "smtp_address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("must be host:port")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> FailoverSettings:
        if self.lease_margin >= self.lease_ttl / 2:
            raise ValueError("lease_margin must be under half of lease_ttl")
        if self.preferred_site == self.peer_site and not self.peer_url:
            pass  # a lone site (tests, one machine): allowed
        return self

    @property
    def renew_every(self) -> float:
        return self.lease_ttl / 3


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
