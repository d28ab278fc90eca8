"""STARTTLS and AUTH on the SMTP intake, as configured for production: the certificate
is offered after EHLO, AUTH only over TLS against the configured users, and with
``auth_required`` nothing is accepted before AUTH."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import subprocess

import pytest

from mailgw.runtime import MailGateway
from tests.integration.mail.conftest import SUPPORT, mail, tickets


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=guichet.test", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _session(port: int, *, user: str | None, password: str | None, tls: bool) -> dict:
    out: dict = {}
    with smtplib.SMTP("127.0.0.1", port, local_hostname="portail.test", timeout=20) as client:
        client.ehlo()
        out["starttls_offered"] = client.has_extn("starttls")
        out["auth_before_tls"] = client.has_extn("auth")
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            client.starttls(context=ctx)
            client.ehlo()
            out["cipher"] = client.sock.cipher()
            out["auth_after_tls"] = client.has_extn("auth")
        if user:
            try:
                out["login"] = client.login(user, password)[0]
            except smtplib.SMTPAuthenticationError as exc:
                out["login"] = exc.smtp_code
        out["mail"] = client.mail("portail@formulaires.test")[0]
        if out["mail"] == 250:
            client.rcpt(SUPPORT)
            out["data"] = client.data(mail(sender="usager@exemple.fr"))[0]
    return out


async def test_given_tls_and_required_auth_then_mail_accepted_only_after_starttls_and_auth(
        container, mail_settings, certificate, relay):
    cert, key = certificate
    settings = mail_settings.model_copy(update={
        "tls_cert": cert, "tls_key": key, "auth_users": "portail:mot de passe du portail", "auth_required": True})
    gateway = await MailGateway(container, settings).start()
    try:
        port = gateway.smtp_port
        plain = await asyncio.to_thread(_session, port, user=None, password=None, tls=False)
        assert plain["starttls_offered"] and not plain["auth_before_tls"]
        assert plain["mail"] == 530  # authentication required
        wrong = await asyncio.to_thread(_session, port, user="portail", password="faux", tls=True)
        assert wrong["cipher"] and wrong["auth_after_tls"] and wrong["login"] == 535 and wrong["mail"] == 530
        good = await asyncio.to_thread(_session, port, user="portail", password="mot de passe du portail", tls=True)
        assert (good["login"], good["mail"], good["data"]) == (235, 250, 250)
        assert len(await tickets(container)) == 1
    finally:
        await gateway.stop()


async def test_given_tls_without_auth_then_plain_delivery_still_accepted(container, mail_settings, certificate, relay):
    cert, key = certificate
    settings = mail_settings.model_copy(update={"tls_cert": cert, "tls_key": key})
    gateway = await MailGateway(container, settings).start()
    try:
        out = await asyncio.to_thread(_session, gateway.smtp_port, user=None, password=None, tls=False)
        assert out["starttls_offered"] and out["data"] == 250
        out = await asyncio.to_thread(_session, gateway.smtp_port, user=None, password=None, tls=True)
        assert out["cipher"] and out["data"] == 250
    finally:
        await gateway.stop()


async def test_given_relay_with_starttls_and_auth_then_acknowledgement_leaves_encrypted_and_authenticated(
        container, mail_settings, certificate):
    """The outbound side: a relay that refuses mail before STARTTLS and AUTH."""
    from aiosmtpd.smtp import SMTP as AioSMTP, AuthResult, LoginPassword

    from tests.integration.mail.conftest import CapturingRelay, send

    cert, key = certificate
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    seen: dict = {}

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"guichet", b"relay secret")
        seen["auth"], seen["tls"] = ok, session.ssl is not None
        return AuthResult(success=ok)

    relay = CapturingRelay()
    loop = asyncio.get_running_loop()
    relay.server = await loop.create_server(lambda: AioSMTP(
        relay, hostname="relay.test", tls_context=ctx, require_starttls=True, auth_required=True,
        authenticator=authenticator, loop=loop), "127.0.0.1", 0)
    relay.port = relay.server.sockets[0].getsockname()[1]
    settings = mail_settings.model_copy(update={
        "relay_port": relay.port, "relay_starttls": True, "relay_tls_verify": False,
        "relay_user": "guichet", "relay_password": "relay secret"})
    gateway = await MailGateway(container, settings).start()
    try:
        assert (await send(gateway, mail()))[0] == 250
        [ack] = await relay.wait_for(1)
        assert ack.rcpt_tos == ["dupont@cabinet.fr"] and seen == {"auth": True, "tls": True}
    finally:
        await gateway.stop()
        await relay.stop()
