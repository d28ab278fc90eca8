"""Render the Asterisk configuration the product ships (``configs/asterisk/``) into a run
directory.

The same templates serve the main job, the tests and production: every ``*.conf`` file of
the template folder is copied to the run directory with its ``{{name}}`` placeholders
filled from :class:`AsteriskSettings`. Placeholders use double braces because Asterisk's
own dialplan syntax already uses ``${...}``. Repeated blocks (one per operator, one queue
member per operator) are generated here from the settings and use the ``(!)`` templates
defined in the files themselves, so every SIP option stays in ``configs/asterisk/``.

Usage::

    settings = AsteriskSettings(run_dir=Path("var/asterisk"), ari_password=os.environ[...],
                                operators=[("op1", "secret1")])
    conf = render_config(settings)      # -> Path of <run_dir>/asterisk.conf
    # asterisk -f -n -C <conf>          (see telephony/asterisk_process.py)
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PREFIX = Path(os.environ.get("GUICHET_ASTERISK_PREFIX", "/opt/guichet/asterisk"))
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "configs" / "asterisk"

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
# Names end up as section names and SIP user parts: keep them plain.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_NUMBER = re.compile(r"^[0-9*#]{1,20}$")
# Values end up after "key =" in Asterisk's config syntax, where ';' starts a comment and a
# newline ends the value: refuse them rather than write a silently different config.
_FORBIDDEN_IN_VALUE = re.compile(r"[;\r\n\[\]]")


@dataclass(frozen=True)
class DigestHash:
    """A softphone credential as RFC 2617 HA1 = MD5(endpoint:realm:secret): Asterisk checks
    registrations against it (``password_digest``), so the secret itself is nowhere."""

    realm: str
    ha1: str


class AsteriskConfigError(ValueError):
    """The settings cannot be rendered into a valid Asterisk configuration."""


@dataclass(frozen=True)
class AsteriskSettings:
    """What the rendered configuration depends on. Defaults suit a single loopback node.

    ``operators`` is a list of ``(endpoint name, SIP password or its DigestHash)``: each becomes a PJSIP
    endpoint with digest auth and a one-contact AOR, and an app_queue member of the
    baseline queue.
    """

    run_dir: Path
    ari_password: str
    prefix: Path = DEFAULT_PREFIX
    bind_address: str = "127.0.0.1"
    sip_port: int = 5060
    http_port: int = 8088
    ari_user: str = "guichet"
    app_name: str = "guichet"
    support_number: str = "3900"
    baseline_number: str = "3999"
    queue_name: str = "support-baseline"
    queue_ring_timeout: int = 15
    operators: Sequence[tuple[str, str | DigestHash]] = field(default_factory=tuple)
    # A fixed entity id (Asterisk derives one from a MAC address, which a loopback-only
    # network namespace does not have). Give each node of a cluster its own.
    entity_id: str = "02:00:00:00:00:01"
    system_name: str = "guichet"
    language: str = "fr"
    # Which source addresses are the inbound trunk (callers). Tests: loopback.
    trunk_match: str = "127.0.0.0/8"
    rtp_start: int = 10000
    rtp_end: int = 20000
    # NAT: the public address softphones and the trunk see (README, production).
    external_address: str | None = None
    local_net: Sequence[str] = field(default_factory=tuple)
    # TLS for softphones (production): with both files, a TLS transport on tls_port is
    # added and operators must use it, with SRTP (SDES) media.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_port: int = 5061
    # A SIP trunk that needs registration (production): server "host[:port]" and the
    # account; inbound calls then arrive on the support number (contact user).
    trunk_server: str | None = None
    trunk_username: str | None = None
    trunk_password: str | None = None
    verbose: int = 0
    template_dir: Path = TEMPLATE_DIR

    @property
    def asterisk_conf(self) -> Path:
        """The file to pass to ``asterisk -C``."""
        return Path(self.run_dir).resolve() / "asterisk.conf"

    @property
    def ari_url(self) -> str:
        """Base URL of the REST interface, e.g. ``http://127.0.0.1:8088/ari``."""
        return f"http://{self.bind_address}:{self.http_port}/ari"

    @property
    def sip_address(self) -> str:
        """``host:port`` where SIP peers send their requests."""
        return f"{self.bind_address}:{self.sip_port}"

    @property
    def asterisk_binary(self) -> Path:
        return self.prefix / "sbin" / "asterisk"


def _check(settings: AsteriskSettings) -> None:
    errors: list[str] = []
    try:
        ipaddress.ip_address(settings.bind_address)
    except ValueError:
        errors.append(f"bind_address {settings.bind_address!r} is not an IP address")
    for label, port in (("sip_port", settings.sip_port), ("http_port", settings.http_port)):
        if not 1 <= port <= 65535:
            errors.append(f"{label} {port} is out of range")
    if not (1024 <= settings.rtp_start < settings.rtp_end <= 65535):
        errors.append(f"RTP range {settings.rtp_start}-{settings.rtp_end} is invalid")
    for label in ("ari_user", "app_name", "queue_name", "system_name", "language"):
        if not _NAME.match(getattr(settings, label)):
            errors.append(f"{label} {getattr(settings, label)!r} must match {_NAME.pattern}")
    for label in ("support_number", "baseline_number"):
        if not _NUMBER.match(getattr(settings, label)):
            errors.append(f"{label} {getattr(settings, label)!r} must be digits (or * #)")
    if settings.support_number == settings.baseline_number:
        errors.append("support_number and baseline_number must differ")
    if not settings.ari_password or _FORBIDDEN_IN_VALUE.search(settings.ari_password) \
            or settings.ari_password != settings.ari_password.strip():
        errors.append("ari_password must be non-empty, without ; [ ] newlines or edge spaces")
    if not re.match(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$", settings.entity_id):
        errors.append(f"entity_id {settings.entity_id!r} must look like a MAC address")
    seen: set[str] = set()
    reserved = {"trunk", "trunk-auth", "trunk-registration", "transport-udp", "transport-tls",
                "global", "system", "operator-endpoint",
                "operator-auth", "operator-aor"}
    for name, password in settings.operators:
        if not _NAME.match(name) or name in reserved:
            errors.append(f"operator name {name!r} is invalid or reserved")
        if name in seen:
            errors.append(f"operator {name!r} is listed twice")
        seen.add(name)
        if isinstance(password, DigestHash):
            if not re.match(r"^[A-Za-z0-9_.-]{1,60}$", password.realm) or not re.match(r"^[0-9a-f]{32}$",
                                                                                    password.ha1):
                errors.append(f"operator {name!r}: invalid realm or HA1")
        elif not password or _FORBIDDEN_IN_VALUE.search(password) or password != password.strip():
            errors.append(f"operator {name!r}: password must be non-empty, without ; [ ] "
                          "newlines or edge spaces")
    for value in (settings.trunk_match, settings.external_address or "", *settings.local_net):
        if _FORBIDDEN_IN_VALUE.search(value):
            errors.append(f"invalid address value {value!r}")
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        errors.append("tls_cert_file and tls_key_file go together")
    for path in (settings.tls_cert_file, settings.tls_key_file):
        if path is not None and not Path(path).is_file():
            errors.append(f"TLS file {path} does not exist")
    if settings.trunk_server is not None:
        if not re.match(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", settings.trunk_server):
            errors.append(f"trunk_server {settings.trunk_server!r} must be host[:port]")
        if not settings.trunk_username or not re.match(r"^[A-Za-z0-9_.+-]+$", settings.trunk_username):
            errors.append("trunk_username is required with trunk_server (letters, digits, _.+-)")
        pw = settings.trunk_password or ""
        if not pw or _FORBIDDEN_IN_VALUE.search(pw) or pw != pw.strip():
            errors.append("trunk_password is required with trunk_server, without ; [ ] newlines")
    if errors:
        raise AsteriskConfigError("invalid Asterisk settings: " + "; ".join(errors))


def _values(settings: AsteriskSettings) -> dict[str, str]:
    operators = []
    members = []
    for name, password in settings.operators:
        if isinstance(password, DigestHash):
            credential = f"realm = {password.realm}\npassword_digest = MD5:{password.ha1}\n"
        else:
            credential = f"password = {password}\n"
        operators.append(
            f"[{name}](operator-endpoint)\nauth = {name}\naors = {name}\n"
            f"[{name}](operator-auth)\nusername = {name}\n{credential}"
            f"[{name}](operator-aor)\n"
        )
        members.append(f"member => PJSIP/{name},0,{name}")
    nat = ""
    if settings.external_address:
        nat = (f"external_media_address = {settings.external_address}\n"
               f"external_signaling_address = {settings.external_address}\n"
               + "".join(f"local_net = {net}\n" for net in settings.local_net))
    tls = ""
    if settings.tls_cert_file and settings.tls_key_file:
        tls = ("\n[transport-tls]\ntype = transport\nprotocol = tls\n"
               f"bind = {settings.bind_address}:{settings.tls_port}\n"
               f"cert_file = {Path(settings.tls_cert_file).resolve()}\n"
               f"priv_key_file = {Path(settings.tls_key_file).resolve()}\n"
               "method = tlsv1_2\n" + nat)
    trunk_extra = ""
    trunk_outbound = ""
    if settings.trunk_server:
        server, user = settings.trunk_server, settings.trunk_username
        trunk_extra = f"outbound_auth = trunk-auth\naors = trunk\nfrom_user = {user}\n"
        trunk_outbound = (
            "\n[trunk]\ntype = aor\n"
            f"contact = sip:{server}\n"
            "\n[trunk-auth]\ntype = auth\nauth_type = digest\n"
            f"username = {user}\npassword = {settings.trunk_password}\n"
            "\n[trunk-registration]\ntype = registration\ntransport = transport-udp\n"
            f"outbound_auth = trunk-auth\nserver_uri = sip:{server}\nclient_uri = sip:{user}@{server}\n"
            f"contact_user = {settings.support_number}\n"
            "retry_interval = 60\nforbidden_retry_interval = 600\nexpiration = 3600\n"
            "; calls arriving on this registration are the trunk's, whatever their source\n"
            "line = yes\nendpoint = trunk\n"
        )
    return {
        "prefix": str(settings.prefix),
        "run_dir": str(Path(settings.run_dir).resolve()),
        "entity_id": settings.entity_id,
        "system_name": settings.system_name,
        "language": settings.language,
        "verbose": str(settings.verbose),
        "verbose_log": f",verbose({settings.verbose})" if settings.verbose else "",
        "bind_address": settings.bind_address,
        "sip_port": str(settings.sip_port),
        "http_port": str(settings.http_port),
        "ari_user": settings.ari_user,
        "ari_password": settings.ari_password,
        "app_name": settings.app_name,
        "support_number": settings.support_number,
        "baseline_number": settings.baseline_number,
        "queue_name": settings.queue_name,
        "queue_ring_timeout": str(settings.queue_ring_timeout),
        "queue_members": "\n".join(members),
        "operators": "\n".join(operators),
        "operator_transport": "transport-tls" if tls else "transport-udp",
        "operator_media_encryption": "sdes" if tls else "no",
        "transport_nat": nat,
        "transport_tls": tls,
        "trunk_endpoint_extra": trunk_extra,
        "trunk_outbound": trunk_outbound,
        "trunk_match": settings.trunk_match,
        "rtp_start": str(settings.rtp_start),
        "rtp_end": str(settings.rtp_end),
    }


def render_text(template: str, values: dict[str, str], *, source: str = "<template>") -> str:
    """Fill ``{{name}}`` placeholders; an unknown name is an error, not an empty string."""

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise AsteriskConfigError(f"{source}: unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(sub, template)


def render_config(settings: AsteriskSettings) -> Path:
    """Write every ``*.conf`` template into ``settings.run_dir`` and create the folders
    Asterisk writes to. Returns the path of the rendered ``asterisk.conf``.

    Files are written with mode 0600 because they hold the ARI and SIP passwords.
    """
    _check(settings)
    templates = sorted(settings.template_dir.glob("*.conf"))
    if not templates:
        raise AsteriskConfigError(f"no *.conf template in {settings.template_dir}")
    values = _values(settings)
    run_dir = Path(settings.run_dir).resolve()
    for sub in ("db", "spool", "run", "log"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    for template in templates:
        text = render_text(template.read_text(encoding="utf-8"), values, source=template.name)
        target = run_dir / template.name
        tmp = target.with_suffix(".conf.tmp")
        # Write then rename: a reload never reads a half-written file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    return settings.asterisk_conf
