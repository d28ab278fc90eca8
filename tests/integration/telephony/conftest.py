"""Fixtures for tests on a real Asterisk (built by ``scripts/build-asterisk``) with real SIP
peers (pjsua2, built by ``scripts/build-pjsua2``).

One Asterisk per test module, on free loopback ports, with its run directory (config, logs,
astdb) in a temporary folder. Run the tests inside a loopback-only network namespace::

    unshare --net sh -c 'ip link set lo up && .venv/bin/pytest tests/integration/telephony'

Fixtures:
  asterisk_operators  (module) [(endpoint, password)] rendered into pjsip.conf; override it
                      in a test module to get other operators.
  asterisk_settings   (module) the AsteriskSettings (ports, ARI credentials, app name…)
  asterisk            (module) a started AsteriskProcess (stopped after the module)
  ari                 (function) an AriClient on it
  sip_peers           (function) a SipPeers factory; every peer is closed after the test
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from telephony.ari import AriClient
from telephony.asterisk_config import AsteriskSettings
from telephony.asterisk_process import AsteriskProcess
from tests.support.net import free_port
from tests.support.sip_peers import PJSUA2_DIR, SipPeers


@pytest.fixture(scope="module")
def asterisk_operators() -> list[tuple[str, str]]:
    return [(f"op{i}", f"pw-op{i}-{secrets.token_hex(4)}") for i in range(1, 5)]


@pytest.fixture(scope="module")
def asterisk_settings(tmp_path_factory: pytest.TempPathFactory,
                      asterisk_operators: list[tuple[str, str]]) -> AsteriskSettings:
    run_dir = tmp_path_factory.mktemp("asterisk")
    return AsteriskSettings(
        run_dir=run_dir,
        ari_password=secrets.token_urlsafe(16),
        sip_port=free_port(socket.SOCK_DGRAM),
        http_port=free_port(socket.SOCK_STREAM),
        app_name="guichet-test",
        support_number="3900",
        operators=asterisk_operators,
        verbose=3,
    )


@pytest.fixture(scope="module")
def asterisk(asterisk_settings: AsteriskSettings) -> Iterator[AsteriskProcess]:
    # die_with_parent: a test run killed midway leaves no Asterisk behind
    proc = AsteriskProcess(asterisk_settings, die_with_parent=True)
    if not proc.binary.exists():
        pytest.fail(f"{proc.binary} missing: run scripts/build-asterisk (the test command does)")
    if not (PJSUA2_DIR / "pjsua2.py").exists():
        pytest.fail(f"pjsua2 missing in {PJSUA2_DIR}: run scripts/build-pjsua2")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def ari(asterisk: AsteriskProcess) -> AsyncIterator[AriClient]:
    s = asterisk.settings
    client = AriClient(s.ari_url, s.ari_user, s.ari_password, app=s.app_name)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def sip_peers(asterisk: AsteriskProcess, request: pytest.FixtureRequest) -> AsyncIterator[SipPeers]:
    log_dir = Path(asterisk.settings.run_dir) / "sip" / request.node.name[:80]
    peers = SipPeers(asterisk.settings.sip_address, log_dir)
    try:
        yield peers
    finally:
        await peers.close()
