"""Settings of the chat gateway and of the portal: the ``[chat]`` table of the settings file
and ``GUICHET_CHAT_*`` variables (``guichet.settings.load_section``).

Durations are in seconds. The identity texts (publisher, controller, DPO, processor,
host, retention periods) are what the legal pages of the portal show: each deployment sets
its own; the defaults are those of the Conseil d'État's tender.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guichet.settings import load_section


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- distribution (chatgw.dispatch) ----------------------------------------------------
    max_concurrent_chats: int = Field(3, ge=1, le=20)  # per operator
    offer_timeout: float = Field(30.0, gt=0, le=600)  # seconds an offer waits for "accept"
    overflow_after: float = Field(120.0, ge=0)  # 0: never give a chat to an unskilled operator
    max_missed_offers: int = Field(2, ge=0)  # consecutive expired offers before auto-pause; 0: never
    resume_window: float = Field(120.0, ge=0, le=3600)  # a user may reconnect for this long
    operator_grace: float = Field(60.0, ge=0, le=3600)  # an operator's chats wait this long for them
    supervisor_skill_level: int = Field(1, ge=0, le=5)  # supervisors without skills: all audiences; 0: none

    # --- bad input and abuse ---------------------------------------------------------------
    max_message_chars: int = Field(2000, ge=10, le=20000)
    max_frame_bytes: int = Field(16384, ge=1024, le=1048576)  # larger frames close the connection
    messages_per_minute: int = Field(30, ge=1)  # per connection, sustained
    message_burst: int = Field(10, ge=1)  # per connection, at once
    flood_refusals: int = Field(20, ge=1)  # refused frames in a row before closing the connection
    starts_per_ip: int = Field(5, ge=1)  # new chats per address and window
    forms_per_ip: int = Field(5, ge=1)  # mail-form submissions per address and window
    surveys_per_ip: int = Field(20, ge=1)
    ip_window: float = Field(600.0, gt=0)
    trust_forwarded_for: bool = False  # behind a reverse proxy: take the client's address from it
    outbound_queue: int = Field(500, ge=10)  # frames waiting for a slow client before it is closed
    db_concurrency: int = Field(4, ge=1, le=64)  # new chats, resumes, logins in the database at once

    # --- the mail form ---------------------------------------------------------------------
    form_max_name: int = Field(120, ge=10)
    form_max_subject: int = Field(200, ge=10)
    form_max_message: int = Field(5000, ge=100)
    form_max_bytes: int = Field(32768, ge=1024)  # the whole request body

    # --- public identity and legal texts (portal pages) ------------------------------------
    portal_url: str = "http://127.0.0.1:8080"  # absolute address of the portal, for links in mails
    organisation_name: str = "Conseil d'État"
    service_name: str = "Assistance Télérecours"
    publisher_address: str = "1, place du Palais-Royal, 75100 Paris Cedex 01"
    publication_director: str = "Le vice-président du Conseil d'État"
    controller_name: str = "Conseil d'État"
    controller_address: str = "1, place du Palais-Royal, 75100 Paris Cedex 01"
    dpo_contact: str = "donneespersonnelles@conseil-etat.fr"
    processor_name: str = "Le titulaire du marché d'assistance aux utilisateurs de Télérecours"
    host_name: str = "Le titulaire du marché d'assistance aux utilisateurs de Télérecours"
    host_address: str = "Hébergement en France, dans l'Union européenne"
    phone_display: str = ""  # the support's phone number as shown to users; empty: not shown
    retention_requests: str = "3 ans à compter de la clôture de la demande"
    retention_phone_numbers: str = "13 mois"
    accessibility_status: Literal["totalement conforme", "partiellement conforme", "non conforme"] = "non conforme"
    accessibility_audit: str = ""  # e.g. "audit réalisé le … par …, 87 % des critères respectés"
    accessibility_contact: str = ""  # empty: the mail form of the portal


def load_chat_settings(overrides: dict[str, Any] | None = None) -> ChatSettings:
    return load_section(ChatSettings, "chat", overrides)
