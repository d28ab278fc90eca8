"""Mail gateway settings: the ``[mail]`` table of the settings file or ``GUICHET_MAIL_*``
variables (``GUICHET_MAIL_SMTP_PORT=2525``…), validated at start. Lists may be given as
comma-separated strings. Secrets (IMAP, relay and SMTP AUTH passwords) belong in the
environment, never in the settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MB = 1024 * 1024


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- SMTP intake (support address, portal form) ---------------------------------
    smtp_enabled: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, ge=1, le=65535)
    # Name in the SMTP banner and the right-hand side of the Message-IDs we make.
    hostname: str = "guichet.localhost"
    support_address: str = "support@guichet.localhost"
    from_name: str = "Assistance Télérecours"
    # Recipients accepted: any address of these domains, plus these exact addresses.
    # Both empty: the domain of support_address only. Everything else gets 550 (no relay).
    accepted_domains: list[str] = Field(default_factory=list)
    accepted_addresses: list[str] = Field(default_factory=list)
    max_message_size: int = Field(25 * MB, ge=1024)
    # STARTTLS is offered when both are set; require_starttls refuses mail before it.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_starttls: bool = False
    # SMTP AUTH (the portal, other internal senders): "user:password,user2:password2",
    # from the environment. AUTH is only offered over TLS.
    auth_users: str = ""
    auth_required: bool = False
    # Seconds a client may stay idle before the server drops the connection.
    smtp_timeout: float = Field(300.0, gt=0)

    # --- IMAP polling of an existing mailbox (disabled while imap_host is empty) ------
    imap_host: str = ""
    imap_port: int = Field(993, ge=1, le=65535)
    imap_ssl: bool = True
    imap_user: str = ""
    imap_password: str = ""
    imap_mailbox: str = "INBOX"
    # Processed mails get this keyword (\Seen when the server allows no keywords)…
    imap_processed_flag: str = "$GuichetIngested"
    # …and are moved to this mailbox when it is set (created if missing).
    imap_move_to: str = ""
    imap_idle: bool = True  # use IDLE when the server offers it
    poll_interval: float = Field(60.0, gt=0)  # seconds between polls (also IDLE renewal)
    imap_batch: int = Field(50, ge=1, le=1000)  # mails per poll round
    imap_timeout: float = Field(60.0, gt=0)

    # --- outbound relay (acknowledgements, operators' replies) ------------------------
    relay_host: str = ""  # empty: mails wait in the outbox until a relay is configured
    relay_port: int = Field(587, ge=1, le=65535)
    relay_user: str = ""
    relay_password: str = ""
    relay_starttls: bool = True
    relay_ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    relay_tls_verify: bool = True
    relay_timeout: float = Field(30.0, gt=0)
    outbox_retry_seconds: float = Field(60.0, gt=0)  # first retry; doubles each attempt
    outbox_max_attempts: int = Field(10, ge=1)
    # A mail left "sending" this long (its sender crashed) is sent again (at least once).
    outbox_claim_lease: float = Field(120.0, gt=0)

    # --- acknowledgements and loops ----------------------------------------------------
    acknowledge: bool = True
    # At most this many acknowledgements to one address per window: no mail loops.
    ack_rate_limit: int = Field(3, ge=0)
    ack_rate_window: float = Field(3600.0, gt=0)

    # --- content -------------------------------------------------------------------------
    attachments_dir: Path | None = None  # default: <data_dir>/mail/attachments
    attachments_quota: int = Field(20 * MB, ge=0)  # per mail; beyond, kept in the raw only

    @field_validator("accepted_domains", "accepted_addresses", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("accepted_domains", "accepted_addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in value]

    @field_validator("support_address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        if value.count("@") != 1 or not all(value.split("@")):
            raise ValueError("must be a mail address like support@example.org")
        return value

    @field_validator("auth_users")
    @classmethod
    def _auth_users(cls, value: str) -> str:
        for pair in _split(value):
            if ":" not in pair or not pair.split(":", 1)[0] or not pair.split(":", 1)[1]:
                raise ValueError("must be user:password pairs separated by commas")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> MailSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.require_starttls and not self.tls_cert:
            raise ValueError("require_starttls needs tls_cert and tls_key")
        if self.auth_required and not self.auth_users:
            raise ValueError("auth_required needs auth_users")
        if self.outbox_claim_lease <= self.relay_timeout:
            raise ValueError("outbox_claim_lease must exceed relay_timeout (a live sender keeps its claim)")
        if self.imap_host and not self.imap_user:
            raise ValueError("imap_host needs imap_user (and imap_password)")
        return self

    # --- derived ---------------------------------------------------------------------------

    @property
    def support_domain(self) -> str:
        return self.support_address.split("@", 1)[1]

    def accepts(self, recipient: str) -> bool:
        """Is this envelope recipient ours? (Never an open relay.)"""
        address = recipient.strip().strip("<>").lower()
        if address.count("@") != 1:
            return False
        domain = address.split("@", 1)[1]
        if not self.accepted_domains and not self.accepted_addresses:
            return domain == self.support_domain
        return domain in self.accepted_domains or address in self.accepted_addresses

    def own_address(self, address: str | None) -> bool:
        """One of our own addresses (never acknowledged: that would loop)."""
        return bool(address) and (address.lower() == self.support_address or self.accepts(address))

    @property
    def auth_table(self) -> dict[str, str]:
        return dict(pair.split(":", 1) for pair in _split(self.auth_users))

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def attachments_root(self, data_dir: Path) -> Path:
        return (self.attachments_dir or data_dir / "mail" / "attachments").resolve()

    @property
    def imap_key(self) -> str:
        """Identifies the polled mailbox in the bookkeeping table."""
        return f"{self.imap_user}@{self.imap_host}:{self.imap_port}/{self.imap_mailbox}"[:400]
