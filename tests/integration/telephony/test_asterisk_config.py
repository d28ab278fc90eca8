"""The rendered Asterisk configuration: refused settings, and the production variant
(TLS + SRTP for softphones, NAT addresses, a registering SIP trunk) loaded by a real
Asterisk. No call is placed here (the pjsua2 test peers are built without SRTP)."""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from accounts.services import softphone_ha1
from telephony.asterisk_config import AsteriskConfigError, AsteriskSettings, DigestHash, render_config
from telephony.ari import AriClient
from telephony.asterisk_process import AsteriskProcess
from tests.support.net import free_port
from tests.support.sip_peers import SipPeerError, SipPeers


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "sip.crt", folder / "sip.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=guichet.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def asterisk_settings(tmp_path_factory: pytest.TempPathFactory,
                      asterisk_operators: list[tuple[str, str]]) -> AsteriskSettings:
    """Production-shaped settings, still on loopback: the trunk 'server' is a loopback
    port nobody listens on, so the registration only retries."""
    tls_dir = tmp_path_factory.mktemp("tls")
    cert, key = _self_signed(tls_dir)
    return AsteriskSettings(
        run_dir=tmp_path_factory.mktemp("asterisk-prod"),
        ari_password=secrets.token_urlsafe(16),
        sip_port=free_port(socket.SOCK_DGRAM),
        http_port=free_port(socket.SOCK_STREAM),
        tls_port=free_port(socket.SOCK_STREAM),
        tls_cert_file=cert,
        tls_key_file=key,
        external_address="127.0.0.1",
        local_net=["127.0.0.0/8"],
        trunk_server=f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        trunk_username="guichet-account",
        trunk_password=secrets.token_urlsafe(12),
        trunk_match="127.0.0.1",
        operators=asterisk_operators,
    )


def test_given_unsafe_values_when_rendering_then_config_error_names_them(tmp_path: Path) -> None:
    base = AsteriskSettings(run_dir=tmp_path, ari_password="ok", operators=[("op1", "pw")])
    for bad in (replace(base, ari_password="a;b"), replace(base, operators=[("op1", "p\nw")]),
                replace(base, operators=[("trunk", "pw")]), replace(base, support_number="39a"),
                replace(base, operators=[("op1", "a"), ("op1", "b")]),
                replace(base, trunk_server="sip.example.org")):
        with pytest.raises(AsteriskConfigError):
            render_config(bad)
    assert not list(tmp_path.glob("*.conf"))


def test_given_settings_when_rendering_then_every_placeholder_is_filled(tmp_path: Path) -> None:
    settings = AsteriskSettings(run_dir=tmp_path, ari_password="s3cret", support_number="3901",
                                operators=[("op1", "pw1"), ("op2", "pw2")])
    render_config(settings)
    for conf in tmp_path.glob("*.conf"):
        assert "{{" not in conf.read_text(), conf.name
        assert conf.stat().st_mode & 0o077 == 0, f"{conf.name} is readable by others"
    pjsip = (tmp_path / "pjsip.conf").read_text()
    assert "[op2](operator-auth)\nusername = op2\npassword = pw2" in pjsip
    assert re.search(r"^transport = transport-udp$", pjsip, re.M)
    extensions = (tmp_path / "extensions.conf").read_text()
    assert "exten => 3901,1,NoOp" in extensions
    assert "Stasis(guichet,inbound,${EXTEN})" in extensions
    assert "member => PJSIP/op2,0,op2" in (tmp_path / "queues.conf").read_text()


@pytest.mark.asterisk
def test_given_tls_trunk_and_nat_settings_when_asterisk_starts_then_it_loads_them(
    asterisk: AsteriskProcess,
) -> None:
    s = asterisk.settings
    transports = asterisk.cli("pjsip show transports")
    assert "transport-tls" in transports and f"127.0.0.1:{s.tls_port}" in transports
    endpoint = asterisk.cli(f"pjsip show endpoint {s.operators[0][0]}")
    assert re.search(r"media_encryption\s+:\s+sdes", endpoint)
    assert re.search(r"transport\s+:\s+transport-tls", endpoint)
    trunk = asterisk.cli("pjsip show endpoint trunk")
    assert re.search(r"outbound_auth\s+:\s+trunk-auth", trunk)
    registrations = asterisk.cli("pjsip show registrations")
    assert "trunk-registration" in registrations
    assert f"sip:{s.trunk_server}" in registrations
    assert asterisk.ping()["ping"] == "pong"


@pytest.mark.asterisk
async def test_given_new_operator_when_reloading_then_its_softphone_can_register(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers,
) -> None:
    before = asterisk.settings
    asterisk.settings = replace(before, operators=[*before.operators, ("op9", "pw-op9")],
                                tls_cert_file=None, tls_key_file=None)
    try:
        await asterisk.areload()
        endpoint = await ari.get_endpoint("PJSIP", "op9")
        assert endpoint["state"] == "offline"
        await sip_peers.operator("op9", "pw-op9")
        assert (await ari.get_endpoint("PJSIP", "op9"))["state"] == "online"
    finally:
        asterisk.settings = before
        await asterisk.areload()


def test_given_a_digest_hash_then_the_secret_is_nowhere_in_the_configuration(tmp_path: Path) -> None:
    ha1 = softphone_ha1("op7", "guichet", "le secret du poste")
    render_config(AsteriskSettings(run_dir=tmp_path, ari_password="ok",
                                   operators=[("op7", DigestHash("guichet", ha1))]))
    pjsip = (tmp_path / "pjsip.conf").read_text()
    assert f"[op7](operator-auth)\nusername = op7\nrealm = guichet\npassword_digest = MD5:{ha1}\n" in pjsip
    assert "le secret du poste" not in "".join(p.read_text() for p in tmp_path.glob("*.conf"))
    with pytest.raises(AsteriskConfigError):
        render_config(AsteriskSettings(run_dir=tmp_path, ari_password="ok",
                                       operators=[("op7", DigestHash("guichet", "not-a-hash"))]))


@pytest.mark.asterisk
async def test_given_an_account_kept_as_digest_hash_then_its_softphone_registers_with_the_secret_only(
    asterisk: AsteriskProcess, ari: AriClient, sip_peers: SipPeers,
) -> None:
    """What the main job renders from the users table (realm + HA1): the right secret
    registers, a wrong one is refused."""
    before = asterisk.settings
    ha1 = softphone_ha1("op8", "guichet", "secret-du-poste-8")
    asterisk.settings = replace(before, operators=[*before.operators, ("op8", DigestHash("guichet", ha1))],
                                tls_cert_file=None, tls_key_file=None)
    try:
        await asterisk.areload()
        with pytest.raises(SipPeerError, match="REGISTER answered 401"):
            await sip_peers.operator("op8", "mauvais-secret", timeout=4)
        assert (await ari.get_endpoint("PJSIP", "op8"))["state"] == "offline"
        await sip_peers.operator("op8", "secret-du-poste-8")
        assert (await ari.get_endpoint("PJSIP", "op8"))["state"] == "online"
    finally:
        asterisk.settings = before
        await asterisk.areload()
