"""The mail gateway's pure parts: MIME parsing (never raising), safe attachment names,
charset fallbacks, automatic-mail detection, ticket references in subjects, settings."""

from __future__ import annotations

import pytest

from mailgw.parsing import decode_bytes, normalise_msgid, parse_message, safe_filename, sanitize_html
from mailgw.settings import MailSettings
from mailgw.threads import references_in


@pytest.mark.parametrize(("given", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\rapport.pdf", "rapport.pdf"),
    ("facture\u202efdp.exe", "facturefdp.exe"),  # no right-to-left override
    ("..", "piece-jointe-3.pdf"),
    ("   ", "piece-jointe-3.pdf"),
    (".bashrc", "bashrc"),
    ("con.txt", "_con.txt"),
    ("a<b>c:d|e?.pdf", "a_b_c_d_e_.pdf"),
    ("nul\x00l.pdf", "null.pdf"),
])
def test_given_hostile_attachment_name_then_safe_name(given, expected):
    assert safe_filename(given, "application/pdf", 3) == expected


def test_given_very_long_name_then_bounded_and_extension_kept():
    name = safe_filename("é" * 300 + ".pdf", "application/pdf", 1)
    assert len(name.encode()) <= 200 and name.endswith(".pdf")


@pytest.mark.parametrize(("data", "charset", "text"), [
    ("coût €".encode("cp1252"), "iso-8859-1", "coût €"),  # latin-1 labelled, cp1252 bytes
    ("œuvre €".encode("iso-8859-15"), "iso-8859-15", "œuvre €"),
    ("déjà".encode(), None, "déjà"),
    ("déjà".encode("latin-1"), None, "déjà"),
    ("déjà".encode("latin-1"), "x-unknown", "déjà"),
])
def test_given_charset_then_decoded_with_mail_client_fallbacks(data, charset, text):
    assert decode_bytes(data, charset)[0] == text


def test_given_unknown_charset_then_problem_is_reported():
    assert decode_bytes(b"abc", "x-unknown")[1] == "unknown_charset:x-unknown"


@pytest.mark.parametrize("raw", [b"", b"\x00" * 100, b"\xff\xfe\xfd", b"Content-Type: multipart/mixed\r\n\r\n--",
                                 b"From: <<<@@@>>>\r\nSubject: =?utf-8?b?!!!?=\r\n\r\n"])
def test_given_any_bytes_then_parse_never_raises_and_flags_attention(raw):
    parsed = parse_message(raw)
    assert parsed.needs_attention and parsed.problems


@pytest.mark.parametrize(("headers", "envelope", "reason"), [
    ("Auto-Submitted: auto-generated\r\n", "a@b.fr", "auto_submitted"),
    ("Auto-Submitted: no\r\n", "a@b.fr", None),
    ("Precedence: junk\r\n", "a@b.fr", "precedence"),
    ("Precedence: list\r\n", "a@b.fr", "precedence"),
    ("List-Unsubscribe: <mailto:x@b.fr>\r\n", "a@b.fr", "list"),
    ("X-Auto-Response-Suppress: OOF\r\n", "a@b.fr", "auto_submitted"),
    ("", "<>", "null_sender"),
    ("", "MAILER-DAEMON@b.fr", "mailer_daemon"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n", "a@b.fr", "report"),
    ("", "a@b.fr", None),
])
def test_given_headers_then_automatic_mails_are_recognised(headers, envelope, reason):
    raw = f"From: a@b.fr\r\nSubject: s\r\n{headers}\r\nbody\r\n".encode()
    assert parse_message(raw, envelope).automatic == reason


def test_given_html_then_sanitized_keeps_formatting_only():
    out = sanitize_html('<p style="x" onclick="y()">a<b>b</b><a href="javascript:z()">l</a>'
                        '<a href="https://ex.fr">ok</a><iframe src="https://ex.fr"></iframe><script>s()</script></p>')
    assert out == '<p>a<b>b</b><a rel="noopener noreferrer nofollow">l</a>' \
                  '<a href="https://ex.fr" rel="noopener noreferrer nofollow">ok</a></p>'


def test_given_subject_then_ticket_references_are_found():
    assert references_in("Re: [GU-2026-000123] et GU-2025-000001", "GU") == ["GU-2026-000123", "GU-2025-000001"]
    assert references_in("AGU-2026-000123 GU-2026-0001234 GU-26-000001", "GU") == []
    assert references_in("re: gu-2026-000042", "GU") == ["GU-2026-000042"]


def test_given_message_ids_then_normalised():
    assert normalise_msgid("  <abc@x.fr> (comment)") == "<abc@x.fr>"
    assert normalise_msgid("abc@x.fr") == "<abc@x.fr>"
    assert normalise_msgid("") is None


def test_given_settings_then_only_our_recipients_are_accepted():
    s = MailSettings(support_address="Support@Exemple.FR", accepted_domains="exemple.fr, autre.fr",
                     accepted_addresses="formulaire@portail.fr")
    assert s.accepted_domains == ["exemple.fr", "autre.fr"] and s.support_address == "support@exemple.fr"
    assert [s.accepts(a) for a in ("x@exemple.fr", "<X@Autre.FR>", "formulaire@portail.fr", "y@portail.fr",
                                   "x@exemple.fr.evil.org", "x@sub.exemple.fr", "not-an-address")] == \
           [True, True, True, False, False, False, False]
    default = MailSettings(support_address="support@exemple.fr")
    assert default.accepts("support@exemple.fr") and not default.accepts("support@ailleurs.fr")


@pytest.mark.parametrize("bad", [{"tls_cert": "/x.pem"}, {"require_starttls": True}, {"auth_required": True},
                                 {"support_address": "nope"}, {"auth_users": "nopassword"},
                                 {"imap_host": "imap.exemple.fr"}])
def test_given_inconsistent_settings_then_refused(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        MailSettings(**bad)


def test_given_environment_then_mail_settings_load_with_their_names(monkeypatch):
    from guichet.settings import SettingsError, load_section

    monkeypatch.setenv("GUICHET_MAIL_SMTP_PORT", "2626")
    monkeypatch.setenv("GUICHET_MAIL_ACCEPTED_DOMAINS", "a.fr,b.fr")
    s = load_section(MailSettings, "mail")
    assert (s.smtp_port, s.accepted_domains) == (2626, ["a.fr", "b.fr"])
    monkeypatch.setenv("GUICHET_MAIL_SMTP_PORT", "0")
    with pytest.raises(SettingsError) as err:
        load_section(MailSettings, "mail")
    assert "GUICHET_MAIL_SMTP_PORT" in str(err.value)
