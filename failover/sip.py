"""A very small SIP user agent over UDP, for the health checks and the drills: no
dependency on the test peers (pjsua2), so the product can probe and drill on its own.

- :func:`options_ping`: an ``OPTIONS`` to an Asterisk, answered by its SIP stack itself —
  "SIP through Asterisk" is up when any final response comes back.
- :class:`TestCall`: a real call to the support number, as the carrier's trunk would
  place it (``INVITE`` with an SDP offer, PCMU audio sent every 20 ms, RFC 4733 DTMF for
  the IVR, ``BYE``). Asterisk identifies the trunk by source address, so the drill host's
  address must be in ``GUICHET_ASTERISK_TRUNK_MATCH`` (on loopback it is by default), or
  drills call the real number through the carrier instead.

No authentication, no TCP/TLS, no re-INVITE offers of our own: just enough for a probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import struct
import time
from dataclasses import dataclass, field

T1 = 0.5  # RFC 3261 retransmission base


class SipError(RuntimeError):
    """No answer, or a final failure response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _token(n: int = 10) -> str:
    return os.urandom(n).hex()


def local_address_for(host: str, port: int) -> str:
    """The local address the kernel would use to reach ``host`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return str(s.getsockname()[0])


_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type"}


@dataclass
class Message:
    first: str
    headers: list[tuple[str, str]]
    body: bytes
    addr: tuple[str, int] | None = None

    @property
    def is_response(self) -> bool:
        return self.first.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.first.split()[1]) if self.is_response else 0

    @property
    def method(self) -> str:
        return "" if self.is_response else self.first.split()[0]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def cseq_method(self) -> str:
        value = self.header("cseq") or ""
        return value.split()[-1] if value else ""


def parse(data: bytes, addr: tuple[str, int] | None = None) -> Message | None:
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        lines = head.decode("utf-8", "replace").split("\r\n")
    except Exception:  # noqa: BLE001
        return None
    if not lines or not lines[0]:
        return None
    headers = []
    for line in lines[1:]:
        if ":" not in line:
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers.append((_COMPACT.get(name, name), value.strip()))
    return Message(lines[0], headers, body, addr)


def _tag_of(value: str | None) -> str | None:
    if not value:
        return None
    for part in value.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.lower() == "tag":
            return val
    return None


def _uri_of(value: str) -> str:
    if "<" in value:
        return value[value.index("<") + 1:value.index(">")]
    return value.split(";")[0].strip()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.refused: asyncio.Event = asyncio.Event()  # ICMP port unreachable (connected socket)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = parse(data, addr)
        if msg is not None:
            self.queue.put_nowait(msg)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            self.refused.set()


async def _open(host: str, port: int, *, connected: bool = False) -> tuple[asyncio.DatagramTransport, _Udp, str, int]:
    """A UDP endpoint; ``connected``: to ``host:port`` only, so that an ICMP "port
    unreachable" (nothing listens there: Asterisk is down) is reported at once."""
    loop = asyncio.get_running_loop()
    local = local_address_for(host, port)
    if connected:
        transport, proto = await loop.create_datagram_endpoint(_Udp, local_addr=(local, 0), remote_addr=(host, port))
    else:
        transport, proto = await loop.create_datagram_endpoint(_Udp, local_addr=(local, 0))
    lport = transport.get_extra_info("sockname")[1]
    return transport, proto, local, lport  # type: ignore[return-value]


async def options_ping(host: str, port: int, timeout: float = 2.0) -> int:
    """Send ``OPTIONS`` and return the status of the first final response."""
    transport, proto, lip, lport = await _open(host, port, connected=True)
    try:
        call_id = f"{_token()}@{lip}"
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {lip}:{lport};branch=z9hG4bK{_token()};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:guichet-probe@{lip}>;tag={_token(4)}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            f"Contact: <sip:guichet-probe@{lip}:{lport}>\r\n"
            "User-Agent: Guichet-failover\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        deadline = time.monotonic() + timeout
        interval = T1
        while True:
            transport.sendto(request)
            wait = min(interval, deadline - time.monotonic())
            if wait <= 0:
                raise SipError(f"no SIP answer from {host}:{port} within {timeout:.1f}s")
            try:
                end = time.monotonic() + wait
                while True:
                    if proto.refused.is_set():
                        raise SipError(f"nothing listens on {host}:{port} (port unreachable)")
                    get = asyncio.ensure_future(proto.queue.get())
                    refused = asyncio.ensure_future(proto.refused.wait())
                    done, _ = await asyncio.wait({get, refused}, timeout=max(0.0, end - time.monotonic()),
                                                 return_when=asyncio.FIRST_COMPLETED)
                    for fut in (get, refused):
                        if fut not in done:
                            fut.cancel()
                    if not done:
                        raise TimeoutError
                    if get in done:
                        msg = get.result()
                        if msg.is_response and msg.header("call-id") == call_id and msg.status >= 200:
                            return msg.status
            except TimeoutError:
                interval = min(interval * 2, 4.0)
    finally:
        transport.close()


# ------------------------------------------------------------------------------- RTP


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


@dataclass
class TestCall:
    """One call placed by :func:`call`. ``ended`` is set when either side hung up."""

    host: str
    port: int
    call_id: str
    from_header: str
    to_header: str  # with the remote tag once answered
    remote_target: str
    transport: asyncio.DatagramTransport
    proto: _Udp
    local: tuple[str, int]
    rtp_transport: asyncio.DatagramTransport
    rtp: _Rtp
    remote_media: tuple[str, int] | None = None
    answered_at: float | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None
    _cseq: int = 1
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sdp: bytes = b""
    _dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    @property
    def rtp_received(self) -> int:
        return self.rtp.received

    async def send_dtmf(self, digits: str) -> None:
        for d in digits:
            self._dtmf.put_nowait(d)

    async def hangup(self, timeout: float = 3.0) -> None:
        if not self.ended.is_set():
            self._cseq += 1
            lip, lport = self.local
            bye = (
                f"BYE {self.remote_target} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {lip}:{lport};branch=z9hG4bK{_token()};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: {self.from_header}\r\nTo: {self.to_header}\r\nCall-ID: {self.call_id}\r\n"
                f"CSeq: {self._cseq} BYE\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            self.ended_by = self.ended_by or "local"
            deadline = time.monotonic() + timeout
            while not self.ended.is_set() and time.monotonic() < deadline:
                self.transport.sendto(bye, (self.host, self.port))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ended.wait(), T1)
        await self.close()

    async def close(self) -> None:
        self.ended.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self.transport.close()
        self.rtp_transport.close()

    # --- after the answer: requests from Asterisk, our media ---------------------------

    def _reply(self, req: Message, status: str, body: bytes = b"") -> None:
        lines = [f"SIP/2.0 {status}"]
        for name in ("via",):
            lines += [f"Via: {v}" for v in req.all(name)]
        lines += [f"From: {req.header('from')}", f"To: {req.header('to')}", f"Call-ID: {req.header('call-id')}",
                  f"CSeq: {req.header('cseq')}"]
        if body:
            lines += [f"Contact: <sip:guichet-drill@{self.local[0]}:{self.local[1]}>", "Content-Type: application/sdp"]
        lines.append(f"Content-Length: {len(body)}")
        assert req.addr is not None
        self.transport.sendto(("\r\n".join(lines) + "\r\n\r\n").encode() + body, req.addr)

    async def _signalling(self, ack: bytes) -> None:
        while True:
            msg = await self.proto.queue.get()
            if msg.header("call-id") != self.call_id:
                continue
            if msg.is_response:
                if msg.cseq_method == "INVITE" and msg.status >= 200:
                    self.transport.sendto(ack, (self.host, self.port))  # a retransmitted 200
                elif msg.cseq_method == "BYE" and msg.status >= 200:
                    self.ended.set()
                continue
            if msg.method == "BYE":
                self._reply(msg, "200 OK")
                self.ended_by = self.ended_by or "remote"
                self.ended.set()
            elif msg.method == "INVITE":
                self._reply(msg, "200 OK", self._sdp)
            elif msg.method != "ACK":
                self._reply(msg, "200 OK")

    async def _media(self) -> None:
        ssrc = random.getrandbits(32)
        seq = random.getrandbits(16)
        ts = random.getrandbits(32)
        silence = b"\xff" * 160
        next_at = time.monotonic()
        while not self.ended.is_set():
            if self.remote_media is None:
                await asyncio.sleep(0.02)
                continue
            if not self._dtmf.empty():
                digit = self._dtmf.get_nowait()
                event = "0123456789*#ABCD".index(digit.upper())
                for i in range(8):  # 160 ms of tone, then three end packets
                    end = i >= 5
                    duration = min(i + 1, 5) * 160
                    payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
                    header = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | 101, seq & 0xFFFF, ts, ssrc)
                    self.rtp_transport.sendto(header + payload, self.remote_media)
                    seq += 1
                    next_at += 0.02
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                ts += 8 * 160
                continue
            header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
            self.rtp_transport.sendto(header + silence, self.remote_media)
            seq += 1
            ts += 160
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def _remote_media(sdp: bytes, default_host: str) -> tuple[str, int] | None:
    host, port = default_host, None
    for line in sdp.decode("utf-8", "replace").splitlines():
        if line.startswith("c=IN IP4 "):
            host = line.split()[-1]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    return (host, port) if port else None


async def call(host: str, port: int, number: str, *, caller: str, answer_timeout: float = 15.0,
               dtmf: str = "", dtmf_after: float = 1.0) -> TestCall:
    """Call ``number`` on the Asterisk at ``host:port`` as the trunk would, and return once
    answered (200 OK, ACK sent); ``dtmf`` is sent ``dtmf_after`` seconds later."""
    transport, proto, lip, lport = await _open(host, port)
    loop = asyncio.get_running_loop()
    rtp_transport, rtp = await loop.create_datagram_endpoint(_Rtp, local_addr=(lip, 0))
    rtp_port = rtp_transport.get_extra_info("sockname")[1]
    sdp = (
        "v=0\r\n"
        f"o=guichet {random.getrandbits(31)} 1 IN IP4 {lip}\r\n"
        "s=guichet drill\r\n"
        f"c=IN IP4 {lip}\r\n"
        "t=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
    ).encode()
    call_id = f"{_token()}@{lip}"
    from_header = f"<sip:{caller}@{lip}>;tag={_token(4)}"
    to_header = f"<sip:{number}@{host}:{port}>"
    request_uri = f"sip:{number}@{host}:{port}"
    branch = f"z9hG4bK{_token()}"
    invite = (
        f"INVITE {request_uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {lip}:{lport};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: {from_header}\r\nTo: {to_header}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:{caller}@{lip}:{lport}>\r\n"
        "User-Agent: Guichet-failover\r\n"
        "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
    ).encode() + sdp
    tc = TestCall(host, port, call_id, from_header, to_header, request_uri, transport, proto, (lip, lport),
                  rtp_transport, rtp, _sdp=sdp)
    try:
        deadline = time.monotonic() + answer_timeout
        interval, provisional, next_send = T1, False, time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise SipError(f"the call to {number} was not answered within {answer_timeout:.0f}s")
            if not provisional and now >= next_send:
                transport.sendto(invite, (host, port))
                next_send = now + interval
                interval = min(interval * 2, 4.0)
            try:
                msg = await asyncio.wait_for(proto.queue.get(), min(0.1, deadline - now))
            except TimeoutError:
                continue
            if not msg.is_response or msg.header("call-id") != call_id or msg.cseq_method != "INVITE":
                continue
            if msg.status < 200:
                provisional = True
                continue
            tc.to_header = msg.header("to") or to_header
            ack_uri = request_uri
            if msg.status < 300 and msg.header("contact"):
                ack_uri = _uri_of(msg.header("contact") or "")
            ack = (
                f"ACK {ack_uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {lip}:{lport};branch={branch if msg.status >= 300 else 'z9hG4bK' + _token()};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: {from_header}\r\nTo: {tc.to_header}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            transport.sendto(ack, (host, port))
            if msg.status >= 300:
                raise SipError(f"the call to {number} was refused: {msg.first[8:]}", msg.status)
            tc.remote_target = ack_uri
            tc.remote_media = _remote_media(msg.body, host)
            tc.answered_at = time.monotonic()
            tc._tasks.append(asyncio.create_task(tc._signalling(ack), name="sip-drill-signalling"))
            tc._tasks.append(asyncio.create_task(tc._media(), name="sip-drill-media"))
            if dtmf:
                async def later() -> None:
                    await asyncio.sleep(dtmf_after)
                    await tc.send_dtmf(dtmf)
                tc._tasks.append(asyncio.create_task(later(), name="sip-drill-dtmf"))
            return tc
    except BaseException:
        await tc.close()
        raise
