"""MIME → a parsed mail, with the standard library's ``email`` and ``policy.default``.

``parse_message`` never raises: whatever the bytes, it returns a ``ParsedMail``. What it
could not read is listed in ``problems``; when that makes the mail unreliable (truncated
or broken multipart, no usable sender, headers that are not headers) ``needs_attention``
is set, and the caller keeps the raw message and flags the ticket instead of dropping it.

Text is decoded by declared charset with the fallbacks mail clients use (ISO-8859-1 read
as windows-1252, undeclared 8-bit read as UTF-8 else windows-1252, raw 8-bit headers
likewise). HTML is kept as received and sanitized with nh3 for display; a plain-text
version is derived from the sanitized HTML when the mail has no text part.
"""

from __future__ import annotations

import html as html_lib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email import errors as email_errors
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr
from typing import Any

import nh3

# Defects after which the parsed content cannot be trusted to be the whole mail.
SEVERE_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.MissingHeaderBodySeparatorDefect,
    email_errors.FirstHeaderLineIsContinuationDefect,
    email_errors.MisplacedEnvelopeHeaderDefect,
)

AUTOMATIC_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon"}
LATIN1_ALIASES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "iso_8859-1"}
MAX_TEXT = 200_000  # characters kept of a text body (the raw keeps everything)
_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass
class ParsedAttachment:
    position: int
    filename: str  # safe: no directory, no control characters, bounded length
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_address: str | None = None  # lower-cased addr-spec, None when unusable
    from_name: str = ""
    reply_to: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    text: str = ""
    html_raw: str | None = None
    html_sanitized: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    automatic: str | None = None  # why no acknowledgement may be sent, if so
    problems: list[str] = field(default_factory=list)
    needs_attention: bool = False

    @property
    def from_domain(self) -> str | None:
        return self.from_address.split("@", 1)[1] if self.from_address else None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, most specific first."""
        ids: list[str] = []
        for mid in ([self.in_reply_to] if self.in_reply_to else []) + list(reversed(self.references)):
            if mid not in ids:
                ids.append(mid)
        return ids[:50]


# --- text helpers ---------------------------------------------------------------------------


def clean_text(value: str | None, limit: int | None = None) -> str:
    """Text safe for both databases: no NUL, no lone surrogates."""
    if not value:
        return ""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        value = value.encode("utf-8", "replace").decode("utf-8")
    value = value.replace("\x00", "")
    return value[:limit] if limit else value


def one_line(value: str | None, limit: int = 500) -> str:
    return re.sub(r"\s+", " ", clean_text(value)).strip()[:limit]


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Bytes of a text part → str, and a problem label when the charset was unusable."""
    cs = (charset or "").strip().strip('"').lower()
    if not cs:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace"), None
    if cs in LATIN1_ALIASES:
        # What mail clients do: ISO-8859-1 labelled text is read as windows-1252.
        try:
            return data.decode("cp1252"), None
        except UnicodeDecodeError:
            return data.decode("latin-1"), None
    try:
        return data.decode(cs, "replace"), None
    except LookupError:
        try:
            return data.decode("utf-8"), f"unknown_charset:{cs[:40]}"
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace"), f"unknown_charset:{cs[:40]}"


def _eight_bit_header(value: str, hint: str | None = None) -> str:
    """A header read with surrogateescape (raw 8-bit bytes) → text: UTF-8, else the
    charset the message declares for its text, else windows-1252."""
    raw = value.encode("ascii", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if hint and hint not in LATIN1_ALIASES:
        try:
            return raw.decode(hint)
        except (LookupError, UnicodeDecodeError):
            pass
    return raw.decode("cp1252", "replace")


def normalise_msgid(value: str | None) -> str | None:
    if not value:
        return None
    value = clean_text(str(value)).strip()
    found = _MSGID.search(value)
    if found:
        return found.group(0)[:500]
    value = re.sub(r"\s+", "", value)
    return f"<{value.strip('<>')}>"[:500] if value.strip("<>") else None


def msgid_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [m[:500] for m in _MSGID.findall(clean_text(str(value)))][:100]


def html_to_text(sanitized: str) -> str:
    s = re.sub(r"(?i)<br\s*/?>", "\n", sanitized)
    s = re.sub(r"(?i)</(p|div|li|tr|h[1-6]|blockquote|table)>", "\n", s)
    s = nh3.clean(s, tags=set())
    s = html_lib.unescape(s)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in s.splitlines()]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out


def sanitize_html(value: str) -> str:
    """What may be shown to an operator: nh3 (ammonia) with its default allow-list, no
    script or style content, links only to http(s)/mailto, inline images by cid."""
    return nh3.clean(
        value,
        clean_content_tags={"script", "style"},
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


# --- file names -----------------------------------------------------------------------------

_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def safe_filename(name: str | None, content_type: str, position: int) -> str:
    """A name safe to show and to offer for download: the last path component only, no
    control or bidi-override characters, no leading dots, at most 200 bytes, keeping the
    extension. Never used as a path: files are stored by content hash."""
    value = unicodedata.normalize("NFC", clean_text(name or ""))
    value = value.replace("\\", "/").split("/")[-1]
    value = "".join(c for c in value if unicodedata.category(c)[0] != "C")  # Cc, Cf (U+202E…)
    value = re.sub(r'[<>:"|?*]', "_", value)
    value = re.sub(r"\s+", " ", value).strip().lstrip(".").strip()
    if not value or value in {".", ".."}:
        ext = mimetypes.guess_extension(content_type or "") or ".bin"
        value = f"piece-jointe-{position}{ext}"
    if _WINDOWS_RESERVED.match(value):
        value = "_" + value
    if len(value.encode("utf-8")) > 200:
        stem, dot, ext = value.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        budget = 200 - len(ext.encode()) - (1 if ext else 0)
        stem = (stem if ext else value).encode("utf-8")[:budget].decode("utf-8", "ignore")
        value = f"{stem}.{ext}" if ext else stem
    return value


# --- the parser --------------------------------------------------------------------------------


class _Reader:
    """One message being read: collects problems instead of raising."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.severe = False
        self.msg: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
        self.charset_hint = self._charset_hint()

    def _charset_hint(self) -> str | None:
        try:
            for part in self.msg.walk():
                if part.get_content_maintype() == "text" and part.get_content_charset():
                    return part.get_content_charset()
        except Exception:  # noqa: BLE001
            pass
        return None

    def problem(self, label: str, *, severe: bool = False) -> None:
        if label not in self.problems:
            self.problems.append(label[:120])
        self.severe = self.severe or severe

    def header(self, name: str) -> Any:
        """The header object (policy.default), re-read when it carried raw 8-bit bytes."""
        try:
            value = self.msg.get(name)
        except Exception as exc:  # noqa: BLE001 - a broken header is a problem, not a crash
            self.problem(f"bad_header:{name}:{type(exc).__name__}")
            return None
        if value is None:
            return None
        source = self._raw_header(name)
        if source is not None and any(ord(c) > 127 for c in source):
            try:
                return policy.default.header_factory(name, _eight_bit_header(source, self.charset_hint).strip())
            except Exception:  # noqa: BLE001
                self.problem(f"bad_header:{name}")
        return value

    def _raw_header(self, name: str) -> str | None:
        # The parser keeps each header's source text (8-bit bytes as surrogate escapes).
        for key, value in self.msg._headers:
            if key.lower() == name.lower():
                return value if isinstance(value, str) and not hasattr(value, "name") else None
        return None

    def text(self, name: str, limit: int = 500) -> str:
        value = self.header(name)
        return one_line(str(value), limit) if value is not None else ""

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, lower-cased addr-spec) of an address header; unusable ones skipped."""
        value = self.header(name)
        if value is None:
            return []
        out: list[tuple[str, str]] = []
        try:
            found = [(a.display_name, a.addr_spec) for a in value.addresses]
        except Exception:  # noqa: BLE001 - fall back to the permissive parser
            self.problem(f"bad_address:{name}")
            found = [parseaddr(str(value))]
        for display, spec in found:
            spec = clean_text(spec).strip().strip("<>").lower()
            if re.fullmatch(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+", spec):
                out.append((one_line(display, 200), spec[:320]))
        return out


def _part_text(reader: _Reader, part: Message) -> str:
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:  # noqa: BLE001
        reader.problem("undecodable_part")
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    text, issue = decode_bytes(data, charset)
    if issue:
        reader.problem(issue)
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n"))


def _automatic(reader: _Reader, envelope_from: str | None, from_address: str | None) -> str | None:
    """RFC 3834 and common practice: mails that must never get an automatic answer."""
    auto = reader.text("Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "auto_submitted"
    if reader.text("Precedence").lower() in AUTOMATIC_PRECEDENCE:
        return "precedence"
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        if reader.msg.get(name) is not None:
            return "list"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "null_sender"
    return_path = reader.msg.get("Return-Path")
    if return_path is not None and str(return_path).strip() in ("", "<>"):
        return "null_sender"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if reader.msg.get(name) is not None:
            return "auto_submitted"
    suppress = reader.text("X-Auto-Response-Suppress").lower()
    if any(v in suppress for v in ("all", "oof", "autoreply")):
        return "auto_submitted"
    senders = [from_address] + [a for _, a in reader.addresses("Sender")]
    if envelope_from:
        senders.append(envelope_from.strip("<>").lower())
    if any(s and s.split("@", 1)[0] in DAEMON_LOCAL_PARTS for s in senders):
        return "mailer_daemon"
    if reader.msg.get_content_type() == "multipart/report":
        return "report"
    return None


def _collect_parts(reader: _Reader, parsed: ParsedMail) -> None:
    msg = reader.msg
    plain = html = None
    try:
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
    except Exception:  # noqa: BLE001
        reader.problem("body_structure")
    if plain is None and html is None and not msg.is_multipart():
        maintype = msg.get_content_maintype()
        if maintype == "text" or not msg.get("Content-Type"):
            if msg.get_content_subtype() == "html":
                html = msg
            else:
                plain = msg
    body_ids = {id(p) for p in (plain, html) if p is not None}
    extra_text: list[str] = []
    position = 0

    def visit(part: Message) -> None:
        nonlocal position
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            position += 1
            try:
                inner = part.get_payload(0)
                data = inner.as_bytes(policy=policy.SMTP) if isinstance(inner, Message) else b""
            except Exception:  # noqa: BLE001
                reader.problem("undecodable_attached_message")
                data = b""
            subject = ""
            try:
                subject = one_line(str(part.get_payload(0).get("Subject", "")), 80)
            except Exception:  # noqa: BLE001
                pass
            _add_attachment(reader, parsed, part, data, position, default_name=(subject or "message") + ".eml")
            return
        if part.is_multipart():
            try:
                for sub in part.iter_parts():
                    visit(sub)
            except Exception:  # noqa: BLE001
                reader.problem("bad_multipart", severe=True)
            return
        if id(part) in body_ids:
            return
        try:
            disposition = part.get_content_disposition()
            filename = part.get_filename()
        except Exception:  # noqa: BLE001
            disposition, filename = None, None
            reader.problem("bad_content_disposition")
        if part.get_content_maintype() == "text" and disposition != "attachment" and not filename \
                and part.get_content_subtype() in ("plain", "html"):
            text = _part_text(reader, part)
            if part.get_content_subtype() == "html":
                text = html_to_text(sanitize_html(text))
            if text.strip():
                extra_text.append(text)
            return
        position += 1
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:  # noqa: BLE001
            reader.problem("undecodable_attachment")
            data = b""
        _add_attachment(reader, parsed, part, data, position)

    visit(msg)
    if plain is not None:
        parsed.text = _part_text(reader, plain)
    if html is not None:
        parsed.html_raw = _part_text(reader, html)
        parsed.html_sanitized = sanitize_html(parsed.html_raw)
        if plain is None:
            parsed.text = html_to_text(parsed.html_sanitized)
    if extra_text:
        parsed.text = "\n\n".join([parsed.text, *extra_text]).strip()
    parsed.text = parsed.text[:MAX_TEXT]


def _add_attachment(reader: _Reader, parsed: ParsedMail, part: Message, data: bytes, position: int,
                    default_name: str | None = None) -> None:
    ctype = part.get_content_type()
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    content_id = None
    try:
        cid = part.get("Content-ID")
        content_id = one_line(str(cid), 300) if cid is not None else None
        inline = part.get_content_disposition() == "inline"
    except Exception:  # noqa: BLE001
        inline = False
    parsed.attachments.append(ParsedAttachment(
        position=position, filename=safe_filename(name or default_name, ctype, position),
        content_type=ctype[:200], data=data, content_id=content_id, inline=inline,
    ))


def parse_message(raw: bytes, envelope_from: str | None = None) -> ParsedMail:
    """Read a mail; never raises (see the module docstring)."""
    parsed = ParsedMail()
    try:
        reader = _Reader(raw)
    except Exception as exc:  # noqa: BLE001 - even the envelope of the parser failed
        parsed.problems = [f"unparseable:{type(exc).__name__}"]
        parsed.needs_attention = True
        parsed.subject = subject_by_regex(raw)
        return parsed
    try:
        _read(reader, parsed, envelope_from)
    except Exception as exc:  # noqa: BLE001 - keep whatever was read, flag the rest
        reader.problem(f"unparseable:{type(exc).__name__}", severe=True)
        if not parsed.subject:
            parsed.subject = subject_by_regex(raw)
    parsed.problems = reader.problems
    parsed.needs_attention = reader.severe
    return parsed


def _read(reader: _Reader, parsed: ParsedMail, envelope_from: str | None) -> None:
    msg = reader.msg
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            reader.problem(f"defect:{type(defect).__name__}", severe=isinstance(defect, SEVERE_DEFECTS))
    parsed.subject = reader.text("Subject")
    parsed.message_id = normalise_msgid(reader.text("Message-ID", 998))
    parsed.in_reply_to = normalise_msgid(reader.text("In-Reply-To", 998))
    parsed.references = msgid_list(reader.text("References", 20_000))
    senders = reader.addresses("From")
    if senders:
        parsed.from_name, parsed.from_address = senders[0]
    else:
        reader.problem("no_sender", severe=True)
    reply_to = reader.addresses("Reply-To")
    parsed.reply_to = reply_to[0][1] if reply_to else None
    parsed.to = [a for _, a in reader.addresses("To")][:50]
    parsed.cc = [a for _, a in reader.addresses("Cc")][:50]
    parsed.automatic = _automatic(reader, envelope_from, parsed.from_address)
    _collect_parts(reader, parsed)


def subject_by_regex(raw: bytes) -> str:
    found = re.search(rb"(?im)^subject:[ \t]*(.*)$", raw[:65536])
    return one_line(found.group(1).decode("cp1252", "replace"), 300) if found else ""
