"""The harness shared by the telephony benchmarks (``acd_latency.py``, ``acd_capacity.py``).

It assembles a whole call center on loopback, the way ``tests/integration/calls`` does,
but with load tools instead of pjsua2 peers:

* **Asterisk** built by ``scripts/build-asterisk``, configured from the product's own
  templates (``configs/asterisk/``, rendered by ``telephony.asterisk_config``) on free ports:
  the support number (3900) goes to our Stasis application, the baseline number (3999) to
  Asterisk's ``app_queue`` ``Queue()`` (``autofill=yes``) toward **the same operator
  endpoints**;
* **our application** (``bench/acd_app.py``) in its own process, so that its CPU is
  measured apart: SQLite (or ``--database-url``), the ACD and the Stasis app connected over
  ARI, every operator logged in with every skill;
* **operators**: one SIPp instance registers every operator endpoint with digest auth
  (``sipp/operator_register.xml``) and answers the INVITEs Asterisk sends them
  (``sipp/operator_answer.xml``, the out-of-call scenario): 180 at once, 200 OK after
  ``answer_ms``, PCMU audio, BYE ``talk_ms`` after the ACK;
* **callers**: one SIPp instance per batch (``sipp/caller.xml``), each call with its own
  caller number (injection file), sending looped PCMU audio from the ACK on (app_queue
  waits up to 500 ms for the caller's first audio frame when it answers: silent callers
  would distort the baseline), and waiting for Asterisk to hang up;
* **dumpcap** on ``lo``: every SIP packet (and, if asked, the callers' RTP) with its kernel
  timestamp; ``read_pcap`` + ``SipLog`` turn the capture into per-call facts, paired by the
  caller's number, which both ACDs put in the operator INVITE's ``From``;
* **CPU**: ``CpuSampler`` reads ``/proc/<pid>/stat`` (utime + stime of every thread) of each
  process we started, so Asterisk, our application, SIPp and dumpcap are measured apart.

Everything binds 127.0.0.1; run inside a loopback-only network namespace
(``unshare --net sh -c 'ip link set lo up && …'``, see ``bench/README.md``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from telephony.asterisk_config import AsteriskSettings  # noqa: E402
from telephony.asterisk_process import AsteriskProcess  # noqa: E402

BENCH = REPO / "bench"
SIPP_DIR = BENCH / "sipp"
RESULTS = BENCH / "results"
APP_NAME = "guichet-bench"
SUPPORT_NUMBER = "3900"
BASELINE_NUMBER = "3999"
CLK_TCK = os.sysconf("SC_CLK_TCK")

OURS = "ours"
BASELINE = "app_queue"


# ----------------------------------------------------------------------------- helpers


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_pair() -> int:
    """An even UDP port whose next port is free too (SIPp's -mp uses port and port+2)."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM)
        if port % 2 == 0 and port < 60000:
            return port
    return 40000


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values_s: Sequence[float]) -> dict[str, Any]:
    """Median, p90, p99, min, max and mean in milliseconds of durations in seconds."""
    if not values_s:
        return {"n": 0}
    ms = [v * 1000.0 for v in values_s]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(percentile(ms, 90) or 0.0, 2),
        "p99_ms": round(percentile(ms, 99) or 0.0, 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def _raise_nofile() -> None:
    """In children before exec: many calls mean many RTP sockets."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    # Die with the benchmark: a killed run leaves no SIPp or dumpcap behind.
    import ctypes

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def check_tools() -> list[str]:
    """What is missing to run the benchmarks, as messages."""
    missing = []
    for tool, how in (("sipp", "scripts/bench-deps"), ("dumpcap", "scripts/bench-deps"),
                      ("sox", "scripts/bench-deps"), ("espeak-ng", "apt-get install espeak-ng")):
        if shutil.which(tool) is None:
            missing.append(f"{tool} is missing: run {how}")
    prefix = AsteriskSettings(run_dir=Path("/tmp"), ari_password="x").prefix
    if not (prefix / "sbin" / "asterisk").exists():
        missing.append(f"{prefix}/sbin/asterisk is missing: run scripts/build-asterisk")
    return missing


def in_loopback_namespace() -> bool:
    """True when this network namespace has no interface but lo (unshare --net)."""
    try:
        lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    except OSError:
        return False
    return [line.split(":")[0].strip() for line in lines] == ["lo"]


# ----------------------------------------------------------------------------- CPU


@dataclass
class CpuSampler:
    """Samples utime+stime of named processes every ``period`` seconds (``/proc/<pid>/stat``:
    all threads of the process; children that exited and were waited for are not included)."""

    period: float = 0.5
    pids: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @staticmethod
    def cpu_seconds(pid: int) -> float | None:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # the command name may contain spaces: fields start after the last ')'
        fields = raw[raw.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)

    def track(self, name: str, pid: int | None, *, fresh: bool = False) -> None:
        """``fresh``: the process was started just now (its CPU so far is taken as 0)."""
        if pid:
            self.pids[name] = pid
            if fresh:
                self.samples.append((time.monotonic(), {name: 0.0}))

    def untrack(self, name: str) -> None:
        self.pids.pop(name, None)

    def finished(self, pid: int, cpu_s: float) -> None:
        """A tracked child exited: record its exact total as a last sample."""
        for name, tracked in list(self.pids.items()):
            if tracked == pid:
                self.samples.append((time.monotonic(), {name: cpu_s}))
                self.pids.pop(name, None)

    def sample(self) -> None:
        now = time.monotonic()
        values = {}
        for name, pid in list(self.pids.items()):
            sec = self.cpu_seconds(pid)
            if sec is not None:
                values[name] = sec
        self.samples.append((now, values))

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(self.period):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=run, name="cpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self.sample()

    def usage(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per process between two ``time.monotonic()`` instants: mean CPU % of one core,
        the highest sample (over ``period``), and CPU seconds. Processes tracked as
        ``name#n`` (one SIPp per batch of callers) are added up under ``name``."""
        per_pid = self._usage(start, end)
        merged: dict[str, dict[str, float]] = {}
        for key, u in per_pid.items():
            name = key.split("#", 1)[0]
            m = merged.setdefault(name, {"mean_pct": 0.0, "peak_pct": 0.0, "cpu_s": 0.0})
            m["cpu_s"] = round(m["cpu_s"] + u["cpu_s"], 2)
            m["peak_pct"] = max(m["peak_pct"], u["peak_pct"])
        span = max(end - start, 1e-9)
        for m in merged.values():
            m["mean_pct"] = round(100 * m["cpu_s"] / span, 1)
        return merged

    def _usage(self, start: float, end: float) -> dict[str, dict[str, float]]:
        window = [(t, v) for t, v in self.samples if start - self.period <= t <= end + self.period]
        result: dict[str, dict[str, float]] = {}
        names = {n for _, v in window for n in v}
        for name in sorted(names):
            points = [(t, v[name]) for t, v in window if name in v]
            if len(points) < 2:
                continue
            # the samples closest to the window's edges
            first = min(points, key=lambda p: abs(p[0] - start))
            last = min(points, key=lambda p: abs(p[0] - end))
            if last[0] <= first[0]:
                continue
            cpu = last[1] - first[1]
            peak = 0.0
            for (t0, c0), (t1, c1) in zip(points, points[1:]):
                if t0 >= first[0] and t1 <= last[0] and t1 > t0:
                    peak = max(peak, (c1 - c0) / (t1 - t0))
            result[name] = {"mean_pct": round(100 * cpu / (last[0] - first[0]), 1),
                            "peak_pct": round(100 * peak, 1), "cpu_s": round(cpu, 2)}
        return result


def format_cpu(usage: dict[str, dict[str, float]]) -> str:
    return ", ".join(f"{name} {u['mean_pct']:.0f}% (peak {u['peak_pct']:.0f}%)" for name, u in usage.items())


# ----------------------------------------------------------------------------- pcap


def read_pcap(path: Path) -> Iterator[tuple[float, int, int, bytes]]:
    """UDP/IPv4 packets of a classic pcap file: (epoch seconds, source port, destination
    port, payload). Ethernet (lo), Linux cooked v1/v2 and BSD loopback link types."""
    with open(path, "rb") as fh:
        header = fh.read(24)
        if len(header) < 24:
            return
        magic = struct.unpack("<I", header[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        else:
            endian = ">"
            magic = struct.unpack(">I", header[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            raise ValueError(f"{path}: not a classic pcap file (use dumpcap -P)")
        divisor = 1e9 if magic == 0xA1B23C4D else 1e6
        linktype = struct.unpack(endian + "I", header[20:24])[0] & 0x0FFFFFFF
        offset = {1: 14, 113: 16, 276: 20, 0: 4, 12: 0, 101: 0}.get(linktype)
        if offset is None:
            raise ValueError(f"{path}: unsupported link type {linktype}")
        rec = struct.Struct(endian + "IIII")
        while True:
            head = fh.read(16)
            if len(head) < 16:
                return
            sec, frac, incl, _orig = rec.unpack(head)
            data = fh.read(incl)
            if len(data) < incl:
                return
            ip = data[offset:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
            yield sec + frac / divisor, sport, dport, bytes(ip[ihl + 8:])


# Operators send audio made of this byte only (PCMU), callers a 440 Hz tone and Asterisk's
# music on hold is neither: a packet Asterisk sends to a caller whose payload starts with
# four of these bytes is an operator's voice relayed by a bridge.
OPERATOR_AUDIO_BYTE = b"\x55"

_HEADER_ALIASES = {"f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}
_USER = re.compile(r"<?sips?:([^@;>]+)@")


@dataclass
class SipMessage:
    at: float
    src: int
    dst: int
    method: str | None  # request
    status: int | None  # response
    ruri: str
    headers: dict[str, str]
    body: str

    @property
    def call_id(self) -> str:
        return self.headers.get("call-id", "")

    @property
    def cseq_method(self) -> str:
        parts = self.headers.get("cseq", "").split()
        return parts[1] if len(parts) > 1 else ""

    @property
    def from_user(self) -> str | None:
        m = _USER.search(self.headers.get("from", ""))
        return m.group(1) if m else None

    @property
    def ruri_user(self) -> str | None:
        m = _USER.search(self.ruri)
        return m.group(1) if m else None

    @property
    def sdp_port(self) -> int | None:
        m = re.search(r"^m=audio (\d+)", self.body, re.M)
        return int(m.group(1)) if m else None


def parse_sip(at: float, src: int, dst: int, payload: bytes) -> SipMessage | None:
    try:
        text = payload.decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        return None
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0]:
        return None
    first = lines[0].split(" ", 2)
    method = status = None
    ruri = ""
    if first[0].startswith("SIP/2.0") and len(first) >= 2 and first[1].isdigit():
        status = int(first[1])
    elif len(first) == 3 and first[2].startswith("SIP/2.0"):
        method, ruri = first[0], first[1]
    else:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        key = _HEADER_ALIASES.get(key, key)
        headers.setdefault(key, value.strip())
    return SipMessage(at, src, dst, method, status, ruri, headers, body)


@dataclass
class CallerCall:
    """One caller's dialog with Asterisk, seen on the wire."""

    number: str
    call_id: str
    invite_at: float
    rtp_port: int | None = None
    answered_at: float | None = None  # 200 OK to the INVITE
    first_rtp_at: float | None = None  # the caller's first audio packet after the 200 OK
    bye_from_asterisk_at: float | None = None
    bye_from_caller_at: float | None = None
    final_status: int | None = None
    asterisk_rtp_port: int | None = None  # where Asterisk sends this caller's audio from
    operator_audio_at: float | None = None  # first packet of operator audio relayed to the caller
    operator_audio_last_at: float | None = None
    operator_audio_packets: int = 0


@dataclass
class OperatorLeg:
    """One INVITE Asterisk sent to an operator, seen on the wire."""

    operator: str
    number: str | None  # the caller's number in From
    call_id: str
    invite_at: float
    answered_at: float | None = None  # the operator's 200 OK
    final_status: int | None = None
    cancelled_at: float | None = None
    bye_from_operator_at: float | None = None
    bye_from_asterisk_at: float | None = None


@dataclass
class SipLog:
    """Per-call facts from a capture of the SIP port (and optionally the callers' RTP)."""

    callers: dict[str, CallerCall] = field(default_factory=dict)  # by caller number
    legs: list[OperatorLeg] = field(default_factory=list)
    duplicate_numbers: set[str] = field(default_factory=set)
    packets: int = 0

    @classmethod
    def from_pcap(cls, path: Path, *, sip_port: int, caller_ports: set[int], operator_port: int,
                  rtp_ports: range | None = None, asterisk_rtp: range = range(10000, 20001),
                  media_ports: range | None = None) -> SipLog:
        """``rtp_ports``: the callers' RTP ports (their first packet toward Asterisk is timed);
        ``media_ports`` the same range, to count the operator audio Asterisk relays to each
        caller (packets whose payload starts with ``OPERATOR_AUDIO_BYTE``, see Capture)."""
        log = cls()
        relayed_by_port: dict[int, CallerCall] = {}
        by_call_id: dict[str, CallerCall] = {}
        legs_by_call_id: dict[str, OperatorLeg] = {}
        rtp_waiting: dict[int, list[CallerCall]] = {}
        for at, src, dst, payload in read_pcap(path):
            log.packets += 1
            if media_ports is not None and src in asterisk_rtp and dst in media_ports:
                if payload[12:16] == OPERATOR_AUDIO_BYTE * 4:
                    call = relayed_by_port.get(src)
                    if call is not None:
                        call.operator_audio_packets += 1
                        call.operator_audio_last_at = at
                        if call.operator_audio_at is None:
                            call.operator_audio_at = at
                continue
            if rtp_ports is not None and src in rtp_ports and dst in asterisk_rtp:
                waiting = rtp_waiting.get(src)
                if waiting:
                    for call in waiting:
                        if call.answered_at is not None and at >= call.answered_at and call.first_rtp_at is None:
                            call.first_rtp_at = at
                    rtp_waiting[src] = [c for c in waiting if c.first_rtp_at is None]
                continue
            if sip_port not in (src, dst):
                continue
            msg = parse_sip(at, src, dst, payload)
            if msg is None:
                continue
            cid = msg.call_id
            if src in caller_ports and dst == sip_port:  # caller → Asterisk
                if msg.method == "INVITE" and cid not in by_call_id:
                    number = msg.from_user or "?"
                    call = CallerCall(number, cid, at, rtp_port=msg.sdp_port)
                    if number in log.callers:
                        log.duplicate_numbers.add(number)
                    log.callers[number] = call
                    by_call_id[cid] = call
                elif msg.method == "BYE" and cid in by_call_id and by_call_id[cid].bye_from_caller_at is None:
                    call = by_call_id[cid]
                    call.bye_from_caller_at = at
                    if call.asterisk_rtp_port and relayed_by_port.get(call.asterisk_rtp_port) is call:
                        del relayed_by_port[call.asterisk_rtp_port]
            elif src == sip_port and dst in caller_ports:  # Asterisk → caller
                call = by_call_id.get(cid)
                if call is None:
                    continue
                if msg.status and msg.cseq_method == "INVITE" and msg.status >= 200 and call.final_status is None:
                    call.final_status = msg.status
                    if msg.status == 200:
                        call.answered_at = at
                        call.asterisk_rtp_port = msg.sdp_port
                        if msg.sdp_port:
                            relayed_by_port[msg.sdp_port] = call  # the latest call on that port
                        if call.rtp_port and rtp_ports is not None:
                            rtp_waiting.setdefault(call.rtp_port, []).append(call)
                elif msg.method == "BYE" and call.bye_from_asterisk_at is None:
                    call.bye_from_asterisk_at = at
                    if call.asterisk_rtp_port and relayed_by_port.get(call.asterisk_rtp_port) is call:
                        del relayed_by_port[call.asterisk_rtp_port]  # the port may be reused
            elif src == sip_port and dst == operator_port:  # Asterisk → operator
                leg = legs_by_call_id.get(cid)
                if msg.method == "INVITE" and leg is None:
                    leg = OperatorLeg(msg.ruri_user or "?", msg.from_user, cid, at)
                    legs_by_call_id[cid] = leg
                    log.legs.append(leg)
                elif leg is not None and msg.method == "CANCEL" and leg.cancelled_at is None:
                    leg.cancelled_at = at
                elif leg is not None and msg.method == "BYE" and leg.bye_from_asterisk_at is None:
                    leg.bye_from_asterisk_at = at
            elif src == operator_port and dst == sip_port:  # operator → Asterisk
                leg = legs_by_call_id.get(cid)
                if leg is None:
                    continue
                if msg.status and msg.cseq_method == "INVITE" and msg.status >= 200 and leg.final_status is None:
                    leg.final_status = msg.status
                    if msg.status == 200:
                        leg.answered_at = at
                elif msg.method == "BYE" and leg.bye_from_operator_at is None:
                    leg.bye_from_operator_at = at
        return log

    def legs_by_number(self) -> dict[str, list[OperatorLeg]]:
        out: dict[str, list[OperatorLeg]] = {}
        for leg in self.legs:
            out.setdefault(leg.number or "?", []).append(leg)
        return out


def judge_calls(log: SipLog, numbers: Iterable[str], *, known: Iterable[str] = (),
                bye_within: float = 2.0, media: bool = False) -> dict[str, Any]:
    """Was every caller served exactly once and by the right operator leg?

    A call is **served** when: Asterisk answered the caller (200 OK); exactly one operator
    answered an INVITE carrying this caller's number; with ``media`` (the capture holds
    the operator audio Asterisk relays to callers), operator audio reached this caller
    while that operator was on the line (the bridge joined
    these two legs: none before that operator's 200 OK; an overloaded Asterisk may relay
    a little after the operator's BYE, until it hangs the caller up); and Asterisk hung the
    caller up after that operator hung up.
    Otherwise it is **misrouted** (two operators answered for one caller, an operator leg
    for a number no caller has, the caller hung up while its operator was still talking,
    or operator audio before its operator answered) or **dropped** (never answered, never
    reached an operator, no operator audio ever reached it: not bridged, or still there at
    the end). A caller hung up more than ``bye_within`` seconds after its operator is
    served but counted in ``late_hangups`` (silence on the line meanwhile).
    ``known``: every caller number of the run (other batches' legs are not strays).
    """
    legs = log.legs_by_number()
    wanted = list(numbers)
    served, dropped, misrouted, late = [], [], [], []
    reasons: dict[str, int] = {}

    def fail(kind: list[str], number: str, why: str) -> None:
        kind.append(number)
        reasons[why] = reasons.get(why, 0) + 1

    for number in wanted:
        call = log.callers.get(number)
        answered_legs = [leg for leg in legs.get(number, []) if leg.answered_at is not None]
        if call is None:
            fail(dropped, number, "no INVITE seen")
        elif call.answered_at is None:
            fail(dropped, number, f"caller not answered (status {call.final_status})")
        elif len(answered_legs) > 1:
            fail(misrouted, number, "answered by two operators")
        elif not answered_legs:
            why = "hung up by Asterisk before reaching an operator" if call.bye_from_asterisk_at \
                else "never reached an operator"
            fail(dropped, number, why)
        else:
            leg = answered_legs[0]
            assert leg.answered_at is not None
            if call.bye_from_asterisk_at is None:
                fail(dropped, number, "caller never hung up by Asterisk")
            elif leg.bye_from_operator_at is None or call.bye_from_asterisk_at < leg.bye_from_operator_at - 0.05:
                fail(misrouted, number, "caller hung up while its operator was still on the line")
            elif media and call.operator_audio_at is None:
                fail(dropped, number, "no operator audio reached the caller (not bridged)")
            elif media and call.operator_audio_at < leg.answered_at - 0.02:
                fail(misrouted, number, "operator audio before its operator answered")
            else:
                served.append(number)
                if call.bye_from_asterisk_at > leg.bye_from_operator_at + bye_within:
                    late.append(number)
    everyone = set(wanted) | set(known)
    stray = [leg for leg in log.legs if leg.number not in everyone]
    if stray:
        reasons["operator INVITE for an unknown number"] = len(stray)
    mine = set(wanted)
    unanswered_legs = [leg for leg in log.legs if leg.number in mine and leg.answered_at is None]
    return {
        "calls": len(wanted), "served": len(served), "dropped": len(dropped), "misrouted": len(misrouted) + len(stray),
        "reasons": reasons, "operator_invites": len(log.legs),
        "operator_invites_not_answered": len(unanswered_legs),
        "late_hangups": len(late), "duplicate_numbers": len(log.duplicate_numbers),
    }


def peak_concurrency(log: SipLog, numbers: Iterable[str]) -> int:
    """Most callers connected at once (answered by Asterisk, not yet hung up)."""
    edges: list[tuple[float, int]] = []
    for number in numbers:
        call = log.callers.get(number)
        if call is None or call.answered_at is None:
            continue
        end = min(t for t in (call.bye_from_asterisk_at, call.bye_from_caller_at, float("inf")) if t is not None)
        edges.append((call.answered_at, 1))
        edges.append((end, -1))
    peak = current = 0
    for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
        current += delta
        peak = max(peak, current)
    return peak


# ----------------------------------------------------------------------------- processes


class Capture:
    """dumpcap on lo with a BPF filter, classic pcap output (kernel timestamps)."""

    def __init__(self, path: Path, bpf: str) -> None:
        self.path = path
        self.bpf = bpf
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = path.with_suffix(".log")
        self.stats = ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", self.bpf, "-P", "-B", "64", "-w", str(self.path)],
            stdin=subprocess.DEVNULL, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
            preexec_fn=_raise_nofile)  # noqa: PLW1509
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.path.exists() and self.path.stat().st_size >= 24:
                time.sleep(0.3)
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"dumpcap exited: {self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        raise RuntimeError("dumpcap did not start writing within 10 s")

    def stop(self) -> str:
        if self.proc and self.proc.poll() is None:
            time.sleep(0.3)  # let the last packets in
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            self.stats = " ".join(self.log.read_text(errors="replace").split())
        return self.stats

    @property
    def dropped(self) -> int | None:
        m = re.search(r"received/dropped on interface '[^']+': (\d+)/(\d+)", self.stats)
        return int(m.group(2)) if m else None


class AppProcess:
    """``bench/acd_app.py`` in a child process, driven by one-line commands on stdin."""

    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.config = config
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = run_dir / "app.log"

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        cfg = self.run_dir / "app.json"
        cfg.write_text(json.dumps(self.config))
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "acd_app.py"), str(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.log_path, "a"),
            text=True, bufsize=1, cwd=str(REPO), preexec_fn=_raise_nofile)  # noqa: PLW1509
        return self._reply(timeout)

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc and self.proc.stdout
        import select

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith("{"):
                    return json.loads(line)
            elif self.proc.poll() is not None:
                break
        tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
        raise RuntimeError(f"the benchmark app did not answer (exit {self.proc.poll()}):\n{tail}")

    def command(self, line: str, timeout: float = 60.0) -> dict[str, Any]:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._reply(timeout)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.command("quit", timeout=20)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Sipp:
    """One SIPp process (started by us, stopped by pid)."""

    name: str
    proc: subprocess.Popen[bytes]
    out: Path
    sampler: CpuSampler | None = None
    cpu_s: float | None = None  # user + system CPU seconds, exact, once it has exited

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float) -> int | None:
        """Wait for the exit (reaping it with wait4, which gives its exact CPU time)."""
        deadline = time.monotonic() + timeout
        while self.proc.returncode is None:
            try:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            except ChildProcessError:
                self.proc.poll()
                break
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s = usage.ru_utime + usage.ru_stime
                if self.sampler is not None:
                    self.sampler.finished(self.proc.pid, self.cpu_s)
                break
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # SIPp: stop softly (no new calls, end)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()

    def counts(self) -> dict[str, int]:
        """Successful / failed calls from the last statistics screen SIPp printed."""
        text = self.out.read_text(errors="replace") if self.out.exists() else ""
        result = {}
        for key, label in (("successful", "Successful call"), ("failed", "Failed call")):
            found = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", text)
            if found:
                result[key] = int(found[-1])
        return result


class CallCenter:
    """Asterisk + our app + the operators + the capture, for one benchmark run."""

    def __init__(self, run_dir: Path, *, operators: int, answer_ms: int, talk_ms: int,
                 app_settings: dict[str, Any], database_url: str = "", capture_rtp: bool = False,
                 verbose: int = 0) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.operators = [(f"op{i}", f"pw-{i}-{secrets.token_hex(6)}") for i in range(1, operators + 1)]
        self.answer_ms = answer_ms
        self.talk_ms = talk_ms
        self.app_settings = app_settings
        self.database_url = database_url
        self.capture_rtp = capture_rtp
        self.settings = AsteriskSettings(
            run_dir=run_dir / "asterisk", ari_password=secrets.token_urlsafe(16),
            sip_port=free_port(socket.SOCK_DGRAM), http_port=free_port(socket.SOCK_STREAM),
            app_name=APP_NAME, support_number=SUPPORT_NUMBER, baseline_number=BASELINE_NUMBER,
            operators=self.operators, queue_ring_timeout=int(app_settings.get("ring_timeout", 15)),
            rtp_start=10000, rtp_end=20000, verbose=verbose,
        )
        self.asterisk = AsteriskProcess(self.settings, die_with_parent=True)
        self.app: AppProcess | None = None
        self.operator_sipp: Sipp | None = None
        self.operator_port = free_port(socket.SOCK_DGRAM)
        self.caller_port = free_port(socket.SOCK_DGRAM)
        # RTP ports: Asterisk 10000-19999, callers 20000-29999, operators 30000-32767; SIP
        # and HTTP take free ports in the kernel's ephemeral range (32768 and up).
        self.operator_media = 30000
        self.caller_media = 20000
        self.capture: Capture | None = None
        self.cpu = CpuSampler()
        self.audio = run_dir / "audio.ulaw"
        self.operator_audio = run_dir / "operator.ulaw"
        self.caller_batches = 0
        self.operator_ids: dict[str, int] = {}

    # --- set-up ---------------------------------------------------------------------

    def _make_audio(self) -> None:
        """One second of a 440 Hz tone in raw PCMU (8 kHz, 8 bits): SIPp's rtp_stream loops
        it, 160 bytes every 20 ms, like a phone's microphone."""
        subprocess.run(["sox", "-q", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw",
                        str(self.audio), "synth", "1", "sine", "440", "vol", "0.3"], check=True)
        # the operators' "voice": one byte repeated, recognisable when a bridge relays it
        self.operator_audio.write_bytes(OPERATOR_AUDIO_BYTE * 8000)

    def _scenario(self, name: str, **values: Any) -> Path:
        text = (SIPP_DIR / name).read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", str(value))
        leftover = re.findall(r"@[A-Z_]+@", text)
        if leftover:
            raise RuntimeError(f"{name}: unfilled {leftover}")
        target = self.run_dir / name
        target.write_text(text)
        return target

    def start(self) -> dict[str, Any]:
        self._make_audio()
        self.cpu.start()
        bpf = f"udp port {self.settings.sip_port}"
        # operator audio relayed by Asterisk to the callers (UDP header 8 + RTP header 12)
        marker = OPERATOR_AUDIO_BYTE.hex() * 4
        bpf += f" or (udp src portrange {self.settings.rtp_start}-{self.settings.rtp_end}" \
               f" and dst portrange {self.caller_media}-{self.caller_media + 9999} and udp[20:4] = 0x{marker})"
        if self.capture_rtp:
            # the callers' audio toward Asterisk (to time their first RTP packet)
            bpf += f" or (udp src portrange {self.caller_media}-{self.caller_media + 9999}" \
                   f" and dst portrange {self.settings.rtp_start}-{self.settings.rtp_end})"
        self.capture = Capture(self.run_dir / "sip.pcap", bpf)
        self.capture.start()
        self.cpu.track("dumpcap", self.capture.proc.pid if self.capture.proc else None)
        self.asterisk.start(timeout=60)
        self.cpu.track("asterisk", self.asterisk.pid)
        self.app = AppProcess(self.run_dir, {
            "run_dir": str(self.run_dir / "app"),
            "database_url": self.database_url,
            "asterisk": {
                "run_dir": str(self.settings.run_dir), "ari_password": self.settings.ari_password,
                "sip_port": self.settings.sip_port, "http_port": self.settings.http_port,
                "app_name": self.settings.app_name, "support_number": SUPPORT_NUMBER,
                "baseline_number": BASELINE_NUMBER,
            },
            "operators": self.operators,
            "settings": self.app_settings,
        })
        ready = self.app.start()
        self.operator_ids = {k: int(v) for k, v in ready.get("operators", {}).items()}
        self.cpu.track("app", self.app.pid)
        self._register_operators()
        return ready

    def _register_operators(self) -> None:
        csv = self.run_dir / "operators.csv"
        csv.write_text("SEQUENTIAL\n" + "".join(
            f"{name};[authentication username={name} password={pw}]\n" for name, pw in self.operators))
        answer = self._scenario("operator_answer.xml", ANSWER_MS=self.answer_ms, TALK_MS=self.talk_ms,
                                AUDIO=self.operator_audio)
        out = self.run_dir / "sipp-operators.out"
        cmd = ["sipp", self.settings.sip_address, "-sf", str(SIPP_DIR / "operator_register.xml"),
               "-oocsf", str(answer), "-inf", str(csv), "-i", "127.0.0.1", "-mi", "127.0.0.1",
               "-p", str(self.operator_port), "-mp", str(self.operator_media), "-cp", str(free_port()),
               "-m", str(len(self.operators)), "-r", "50", "-d", str(6 * 3600 * 1000),
               "-l", str(len(self.operators)), "-nostdin", "-aa", "-trace_err",
               "-max_recv_loops", "10000", "-max_sched_loops", "10000",
               "-timeout", str(6 * 3600), "-fd", "1"]
        proc = subprocess.Popen(cmd, cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                                stderr=subprocess.STDOUT, preexec_fn=_raise_nofile)  # noqa: PLW1509
        self.operator_sipp = Sipp("sipp-operators", proc, out)
        self.cpu.track("sipp_operators", proc.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = self.asterisk.cli("pjsip show contacts")
            found = len(re.findall(r"Contact:\s+op\d+/sip:", text))
            if found >= len(self.operators):
                return
            if proc.poll() is not None:
                raise RuntimeError(f"SIPp operators exited: {out.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"operators not all registered within 20 s ({found}/{len(self.operators)})")

    # --- calls -------------------------------------------------------------------------

    def callers(self, number: str, numbers: Sequence[str], *, rate: float, wait_ms: int,
                limit: int | None = None) -> Sipp:
        """Start one SIPp instance placing ``len(numbers)`` calls to ``number`` at ``rate``
        calls per second, one caller number each."""
        self.caller_batches += 1
        tag = f"callers-{self.caller_batches:03d}"
        csv = self.run_dir / f"{tag}.csv"
        csv.write_text("SEQUENTIAL\n" + "".join(f"{n}\n" for n in numbers))
        scenario = self._scenario("caller.xml", WAIT_MS=wait_ms, AUDIO=self.audio)
        out = self.run_dir / f"sipp-{tag}.out"
        cmd = ["sipp", self.settings.sip_address, "-sf", str(scenario), "-s", number, "-inf", str(csv),
               "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(self.caller_port),
               "-mp", str(self.caller_media), "-cp", str(free_port()),
               "-m", str(len(numbers)), "-r", f"{rate:g}", "-l", str(limit or len(numbers)),
               "-nostdin", "-aa", "-trace_err", "-fd", "1", "-timeout", str(int(wait_ms / 1000) + 600),
               "-max_recv_loops", "10000", "-max_sched_loops", "10000"]
        if rate < 1:
            cmd[cmd.index("-r") + 1] = "1"
            cmd += ["-rp", f"{int(1000 / rate)}"]
        proc = subprocess.Popen(cmd, cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                                stderr=subprocess.STDOUT, preexec_fn=_raise_nofile)  # noqa: PLW1509
        self.cpu.track(f"sipp_callers#{self.caller_batches}", proc.pid, fresh=True)
        return Sipp(tag, proc, out, self.cpu)

    def channel_count(self) -> int:
        text = self.asterisk.cli("core show channels count", timeout=20)
        m = re.search(r"(\d+) active channels?", text)
        return int(m.group(1)) if m else -1

    def wait_idle(self, timeout: float = 60.0) -> int:
        """Wait until Asterisk has no channel left; returns how many remain."""
        deadline = time.monotonic() + timeout
        count = self.channel_count()
        while count > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            count = self.channel_count()
        return count

    def sip_log(self) -> SipLog:
        assert self.capture is not None
        rtp = range(self.caller_media, self.caller_media + 10000) if self.capture_rtp else None
        return SipLog.from_pcap(self.capture.path, sip_port=self.settings.sip_port,
                                caller_ports={self.caller_port}, operator_port=self.operator_port,
                                rtp_ports=rtp, asterisk_rtp=range(self.settings.rtp_start, self.settings.rtp_end + 1),
                                media_ports=range(self.caller_media, self.caller_media + 10000))

    def asterisk_warnings(self) -> dict[str, int]:
        """Counts of notable lines in Asterisk's log (task processor queues, errors)."""
        counts: dict[str, int] = {}
        log = Path(self.settings.run_dir) / "log" / "messages.log"
        if not log.exists():
            return counts
        for line in log.read_text(errors="replace").splitlines():
            if "WARNING" not in line and "ERROR" not in line:
                continue
            key = re.sub(r"^\[[^\]]*\]\s*", "", line)
            key = re.sub(r"\[\d+\]", "", key)
            key = re.sub(r"\d+", "N", key)[:160]
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:12])

    def app_problems(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if not self.app or not self.app.log_path.exists():
            return counts
        for line in self.app.log_path.read_text(errors="replace").splitlines():
            m = re.match(r"\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+) (.*)", line)
            if m:
                key = re.sub(r"[0-9a-f]{8,}|\d+", "N", f"{m.group(1)} {m.group(2)} {m.group(3)}")[:160]
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:12])

    # --- tear-down -------------------------------------------------------------------

    def stop(self) -> None:
        if self.app is not None:
            with contextlib.suppress(Exception):
                self.app.stop()
        if self.operator_sipp is not None:
            self.operator_sipp.stop()
        with contextlib.suppress(Exception):
            self.asterisk.stop(timeout=15)
        if self.capture is not None:
            self.capture.stop()
        self.cpu.stop()


PG_SERVER = os.environ.get("GUICHET_BENCH_PG", "postgresql://postgres@/postgres?host=/var/run/postgresql")


@contextlib.contextmanager
def temp_postgres() -> Iterator[str]:
    """A new empty PostgreSQL database on the machine's server (unix socket, like the
    tests; ``GUICHET_BENCH_PG`` overrides the DSN), dropped afterwards. Yields its
    SQLAlchemy URL; our app migrates it at start."""
    import asyncio
    import asyncpg

    name = f"guichet_bench_{secrets.token_hex(5)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_SERVER)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base, _, query = PG_SERVER.partition("?")
    url = base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}" + (
        f"?{query}" if query else "")
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg_start": loadavg()}
    with contextlib.suppress(OSError):
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        info["cpu_model"] = model.group(1).strip() if model else "?"
    with contextlib.suppress(Exception):
        info["asterisk"] = subprocess.run(
            [str(AsteriskSettings(run_dir=Path("/tmp"), ari_password="x").asterisk_binary), "-V"],
            capture_output=True, text=True, timeout=10).stdout.strip()
    with contextlib.suppress(Exception):
        info["sipp"] = subprocess.run(["sipp", "-v"], capture_output=True, text=True,
                                      timeout=10).stdout.strip().splitlines()[0].strip()
    return info


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False, default=str) + "\n")
    return path
