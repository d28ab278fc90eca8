"""Start, wait for, stop and restart an Asterisk built by ``scripts/build-asterisk``.

Asterisk runs in the foreground of its own process (``asterisk -f -n -C <run_dir>/
asterisk.conf``) with stdout/stderr appended to ``<run_dir>/log/console.log``, so the
process manager owns its lifetime and a crash shows up as an exit code. "Ready" means
the core is fully booted *and* ARI answers ``/ari/asterisk/ping`` with our credentials.

The core API is synchronous (plain ``subprocess`` and ``urllib``) so it works from any
pytest fixture scope without an event loop; the ``a*`` methods run it in a worker thread
for asyncio callers (the app's main command, tests already inside a loop)::

    proc = AsteriskProcess(settings)      # settings: telephony.asterisk_config.AsteriskSettings
    proc.start()                          # renders the config, waits until ready
    proc.cli("pjsip show contacts")       # asterisk -rx
    await proc.arestart()
    proc.stop()                           # SIGTERM, then SIGKILL after the timeout
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from telephony.asterisk_config import AsteriskSettings, render_config

log = logging.getLogger("guichet.asterisk")


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGTERM when the parent goes away."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class AsteriskError(RuntimeError):
    """Asterisk could not be started, did not become ready, or a CLI command failed."""


class AsteriskProcess:
    """One Asterisk process on one rendered run directory."""

    def __init__(self, settings: AsteriskSettings, *, render: bool = True,
                 die_with_parent: bool = False) -> None:
        """``die_with_parent``: Linux only — Asterisk gets SIGTERM when the *thread* that
        started it exits, so a killed test run leaves no Asterisk holding its ports. Use it
        only when starting from a long-lived thread (pytest's main thread), not from a
        short-lived worker thread."""
        self.settings = settings
        self.render = render
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._console: Any = None
        self.started_at: float | None = None  # time.monotonic() when last ready
        self.start_count = 0

    # ------------------------------------------------------------------ properties

    @property
    def binary(self) -> Path:
        return self.settings.asterisk_binary

    @property
    def console_log(self) -> Path:
        return Path(self.settings.run_dir).resolve() / "log" / "console.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> None:
        """Render the configuration (unless ``render=False``), start Asterisk and block
        until it is ready. Raises :class:`AsteriskError` with the end of the console log
        if it exits or is not ready within ``timeout`` seconds."""
        if self.running:
            raise AsteriskError("Asterisk is already running")
        if not self.binary.exists():
            raise AsteriskError(f"{self.binary} not found: run scripts/build-asterisk first")
        conf = render_config(self.settings) if self.render else self.settings.asterisk_conf
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        # A stale control socket from a killed run would make "-rx" talk to nothing.
        ctl = Path(self.settings.run_dir).resolve() / "run" / "asterisk.ctl"
        ctl.unlink(missing_ok=True)
        self._console = open(self.console_log, "ab")  # noqa: SIM115 - lives with the process
        self._console.write(f"\n=== guichet: starting Asterisk at {time.ctime()} ===\n".encode())
        self._console.flush()
        t0 = time.monotonic()
        self._proc = subprocess.Popen(
            [str(self.binary), "-f", "-n", "-C", str(conf)],
            stdin=subprocess.DEVNULL, stdout=self._console, stderr=subprocess.STDOUT,
            # its own process group: a Ctrl-C aimed at pytest or the app does not reach it
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,  # noqa: PLW1509
        )
        try:
            self._wait_ready(t0 + timeout)
        except BaseException:
            self.stop(timeout=5)
            raise
        self.started_at = time.monotonic()
        self.start_count += 1
        log.info("asterisk ready", extra={"pid": self.pid, "seconds": round(self.started_at - t0, 3)})

    def _wait_ready(self, deadline: float) -> None:
        booted = False
        last_error: str = ""
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise AsteriskError(f"Asterisk exited with code {self._proc and self._proc.returncode}"
                                    f" during start-up:\n{self.tail()}")
            if not booted:
                # Modules (PJSIP included) are loaded once the core is fully booted.
                res = self._cli_raw("core waitfullybooted", timeout=max(0.5, deadline - time.monotonic()))
                booted = res.returncode == 0
                if not booted:
                    last_error = (res.stdout + res.stderr).strip()
                    time.sleep(0.05)
                    continue
            try:
                self.ping()
                return
            except (OSError, urllib.error.URLError, AsteriskError) as exc:
                last_error = str(exc)
                time.sleep(0.05)
        raise AsteriskError(f"Asterisk not ready after the timeout ({last_error}):\n{self.tail()}")

    def ping(self, timeout: float = 2.0) -> dict[str, Any]:
        """``GET /ari/asterisk/ping`` with the configured credentials (blocking)."""
        s = self.settings
        req = urllib.request.Request(f"{s.ari_url}/asterisk/ping")
        token = base64.b64encode(f"{s.ari_user}:{s.ari_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        # No proxy: an http_proxy variable in the environment must not capture loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as resp:
                answer = json.loads(resp.read())
                return answer if isinstance(answer, dict) else {}
        except urllib.error.HTTPError as exc:
            raise AsteriskError(f"ARI ping answered HTTP {exc.code}") from exc

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop Asterisk: SIGTERM (a clean, immediate shutdown: calls are hung up), then
        SIGKILL if it is still there after ``timeout`` seconds. Returns the exit code."""
        proc, self._proc = self._proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                    code = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log.warning("asterisk did not stop in %.1fs: killing it", timeout)
                    proc.kill()
                    code = proc.wait(timeout=5)
            else:
                code = proc.returncode
        if self._console is not None:
            self._console.close()
            self._console = None
        return code

    def kill(self) -> None:
        """SIGKILL, for crash tests."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self.stop()

    def restart(self, timeout: float = 30.0) -> None:
        """Stop then start again on the same run directory and ports."""
        self.stop()
        self.start(timeout=timeout)

    def reload(self, modules: tuple[str, ...] = ("res_pjsip.so", "pbx_config.so", "app_queue.so")) -> None:
        """Re-render the configuration from ``self.settings`` (e.g. after operators were
        added: assign a new settings object first) and reload the modules that read it,
        without dropping calls in progress."""
        render_config(self.settings)
        for module in modules:
            self.cli(f"module reload {module}")

    def tail(self, lines: int = 40) -> str:
        """The last lines of the console log (for error messages)."""
        try:
            with open(self.console_log, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16384))
                return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no console log)"

    # ------------------------------------------------------------------ CLI

    def _cli_raw(self, command: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [str(self.binary), "-C", str(self.settings.asterisk_conf), "-rx", command],
                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out: {command}")

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command through the control socket (``asterisk -rx``)."""
        res = self._cli_raw(command, timeout)
        if res.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} failed ({res.returncode}): "
                                f"{(res.stdout + res.stderr).strip()}")
        return res.stdout

    # ------------------------------------------------------------------ asyncio

    async def astart(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.start, timeout)

    async def astop(self, timeout: float = 10.0) -> int | None:
        return await asyncio.to_thread(self.stop, timeout)

    async def arestart(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.restart, timeout)

    async def areload(self) -> None:
        await asyncio.to_thread(self.reload)

    async def acli(self, command: str, timeout: float = 10.0) -> str:
        return await asyncio.to_thread(self.cli, command, timeout)

    def __enter__(self) -> AsteriskProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
