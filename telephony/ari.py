"""A thin asyncio client for the Asterisk REST Interface (ARI), on aiohttp.

Everything of ARI the product uses lives in this one module: the REST calls a Stasis
application makes (channels, bridges, playbacks, applications, asterisk) and the events
websocket. ``ari-py`` (synchronous, unmaintained since 2014) is not used.

Errors: every non-2xx answer raises an :class:`AriError` carrying the HTTP status;
404 is :class:`AriNotFound` (a channel, bridge or playback that has vanished — the normal
race when a caller hangs up while the app acts on it), 409 :class:`AriConflict` (e.g. the
channel is not in a Stasis application), 401/403 :class:`AriUnauthorized`. Connection
failures raise :class:`AriConnectionError` (status ``None``).

Events: :meth:`AriClient.events` returns an :class:`AriEventStream` that keeps one
websocket open (``/ari/events?app=..``), reconnects with capped exponential backoff, calls
``on_connected`` after every (re)connect so the app can reconcile (its channels survive a
websocket loss; after an Asterisk restart they are gone), and hands each event to the
handler without ever blocking the reader: events are queued per channel (or bridge,
playback) and handled in order within that key, concurrently across keys. Asterisk drops a
websocket whose reader stalls, so the reader must only read.

    async with AriClient("http://127.0.0.1:8088/ari", "guichet", pw, app="guichet") as ari:
        stream = ari.events(on_event, on_connected=reconcile)
        await stream.start()
        ...
        await stream.stop()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger("guichet.ari")

Event = dict[str, Any]
EventHandler = Callable[[Event], Awaitable[None]]
ConnectedHook = Callable[[], Awaitable[None]]


# --------------------------------------------------------------------------- errors


class AriError(Exception):
    """An ARI request failed. ``status`` is the HTTP status (``None``: no answer)."""

    def __init__(self, status: int | None, method: str, path: str, message: str = "") -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        super().__init__(f"ARI {method} {path} -> {status if status is not None else 'no answer'}"
                         + (f": {message}" if message else ""))


class AriNotFound(AriError):
    """404: the channel/bridge/playback does not exist (any more)."""


class AriConflict(AriError):
    """409: the object is in the wrong state (e.g. channel not in a Stasis app)."""


class AriUnauthorized(AriError):
    """401/403: wrong ARI credentials or a read-only user."""


class AriBadRequest(AriError):
    """400/422: a parameter is missing or wrong (e.g. unknown endpoint, bad media)."""


class AriConnectionError(AriError):
    """Asterisk did not answer (refused, reset, timeout)."""


_STATUS_ERRORS: dict[int, type[AriError]] = {
    400: AriBadRequest, 401: AriUnauthorized, 403: AriUnauthorized,
    404: AriNotFound, 409: AriConflict, 422: AriBadRequest,
}


def _q(segment: str) -> str:
    """Quote one path segment (ids are ours or Asterisk's, but never trust them)."""
    return quote(segment, safe="")


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------- client


class AriClient:
    """REST side of ARI. One instance per Asterisk node; cheap to share between tasks.

    ``base_url`` is the ARI root, e.g. ``http://127.0.0.1:8088/ari``. ``app`` is the
    Stasis application name used for originate defaults and the events websocket.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        app: str,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.app = app
        # A plain header (aiohttp's BasicAuth helper is deprecated in 3.14).
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._own_session = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env=False: proxy variables must never capture traffic to Asterisk.
            # Idle connections are dropped well before Asterisk's own 15 s keep-alive, so a
            # request never goes out on a socket Asterisk is closing.
            self._session = aiohttp.ClientSession(
                trust_env=False, connector=aiohttp.TCPConnector(keepalive_timeout=5))
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # ------------------------------------------------------------------ transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One REST call; returns the decoded JSON (or ``None`` for 204/empty)."""
        clean: dict[str, str] = {}
        for key, value in (params or {}).items():
            if value is None:
                continue
            clean[key] = _bool(value) if isinstance(value, bool) else str(value)
        url = f"{self.base_url}{path}"
        try:
            async with self.session.request(
                method, url, params=clean, json=json_body, headers=self._headers, timeout=self._timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    message = text
                    with contextlib.suppress(ValueError):
                        message = json.loads(text).get("message", text)
                    cls = _STATUS_ERRORS.get(resp.status, AriError)
                    raise cls(resp.status, method, path, message.strip()[:500])
                if not text:
                    return None
                return json.loads(text)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise AriConnectionError(None, method, path, repr(exc)) from exc

    async def _obj(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        result = await self.request(method, path, **kwargs)
        return result if isinstance(result, dict) else {}

    async def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        result = await self.request(method, path, **kwargs)
        return list(result) if isinstance(result, list) else []

    # ------------------------------------------------------------------ asterisk

    async def ping(self) -> dict[str, Any]:
        return await self._obj("GET", "/asterisk/ping")

    async def info(self) -> dict[str, Any]:
        return await self._obj("GET", "/asterisk/info")

    async def reload_module(self, module: str) -> None:
        """Reload one module (e.g. ``res_pjsip.so`` after pjsip.conf was re-rendered)."""
        await self.request("PUT", f"/asterisk/modules/{_q(module)}")

    # ------------------------------------------------------------------ channels

    async def list_channels(self) -> list[dict[str, Any]]:
        return await self._list("GET", "/channels")

    async def list_app_channels(self, app: str | None = None) -> list[dict[str, Any]]:
        """Channels currently in the Stasis application (what a reconnect reconciles).

        Uses the application's own channel list, then fetches each channel; channels that
        vanish in between are skipped.
        """
        info = await self.get_application(app)
        channels = []
        for channel_id in info.get("channel_ids", []):
            with contextlib.suppress(AriNotFound):
                channels.append(await self.get_channel(channel_id))
        return channels

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return await self._obj("GET", f"/channels/{_q(channel_id)}")

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str | None = None,
                     reason_code: int | None = None) -> None:
        """Hang up. ``reason``: normal, busy, congestion, no_answer, ... or ``reason_code``
        (a Q.850 cause)."""
        await self.request("DELETE", f"/channels/{_q(channel_id)}",
                           params={"reason": reason, "reason_code": reason_code})

    async def ring(self, channel_id: str) -> None:
        """Indicate ringing to the channel (180 on an unanswered SIP leg)."""
        await self.request("POST", f"/channels/{_q(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_q(channel_id)}/ring")

    async def play(
        self,
        channel_id: str,
        media: str | Iterable[str],
        *,
        lang: str | None = None,
        playback_id: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> str:
        """Start playing one or more media URIs (``sound:…``, ``number:…``, ``digits:…``,
        ``tone:…``) in sequence; returns the playback id (PlaybackFinished carries it)."""
        items = [media] if isinstance(media, str) else list(media)
        path = f"/channels/{_q(channel_id)}/play"
        if playback_id:
            path += f"/{_q(playback_id)}"
        result = await self.request("POST", path, params={
            "media": ",".join(items), "lang": lang, "offsetms": offsetms, "skipms": skipms})
        return str(result["id"])

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/moh", params={"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_q(channel_id)}/moh")

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Leave the Stasis app and go on in the dialplan (e.g. ``app_queue,s,1``)."""
        await self.request("POST", f"/channels/{_q(channel_id)}/continue", params={
            "context": context, "extension": extension, "priority": priority, "label": label})

    async def send_dtmf(self, channel_id: str, dtmf: str, *, between: int | None = None,
                        duration: int | None = None) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/dtmf", params={
            "dtmf": dtmf, "between": between, "duration": duration})

    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """A channel variable or dialplan function value; ``None`` if it is unset."""
        try:
            result = await self.request("GET", f"/channels/{_q(channel_id)}/variable",
                                        params={"variable": variable})
        except AriNotFound as exc:
            if "variable" in exc.message.lower():
                return None
            raise
        return result.get("value") if result else None

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request("POST", f"/channels/{_q(channel_id)}/variable",
                           params={"variable": variable, "value": value})

    async def set_language(self, channel_id: str, lang: str) -> None:
        """The channel's language (for ``sound:``/``number:`` playback)."""
        await self.set_variable(channel_id, "CHANNEL(language)", lang)

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | Iterable[str] | None = None,
        caller_id: str | None = None,
        timeout: int = 30,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
    ) -> dict[str, Any]:
        """Create an outgoing channel to ``endpoint`` (e.g. ``PJSIP/op1``) that enters the
        Stasis ``app`` (default: this client's app) when answered; ``StasisStart`` then
        carries ``app_args``. ``caller_id`` as ``"Name" <number>``: a bare non-numeric value
        becomes a name only. ``timeout`` is the ring timeout in seconds. Returns the new
        channel (``id`` = ``channel_id`` if given)."""
        args = app_args if app_args is None or isinstance(app_args, str) else ",".join(app_args)
        body = {"variables": dict(variables)} if variables else None
        return await self._obj("POST", "/channels", params={
            "endpoint": endpoint, "app": app or self.app, "appArgs": args, "callerId": caller_id,
            "timeout": timeout, "channelId": channel_id, "otherChannelId": other_channel_id,
            "originator": originator, "formats": formats,
        }, json_body=body)

    # ------------------------------------------------------------------ bridges

    async def create_bridge(self, bridge_id: str | None = None, bridge_type: str = "mixing",
                            name: str | None = None) -> dict[str, Any]:
        """Create a bridge (``mixing``, ``holding``, ``dtmf_events``, ``proxy_media``;
        comma-separated to combine). With ``bridge_id``, creates it under that id."""
        if bridge_id:
            return await self._obj("POST", f"/bridges/{_q(bridge_id)}",
                                      params={"type": bridge_type, "name": name})
        return await self._obj("POST", "/bridges", params={"type": bridge_type, "name": name})

    async def get_bridge(self, bridge_id: str) -> dict[str, Any]:
        return await self._obj("GET", f"/bridges/{_q(bridge_id)}")

    async def list_bridges(self) -> list[dict[str, Any]]:
        return await self._list("GET", "/bridges")

    async def add_channels(self, bridge_id: str, channel_ids: str | Iterable[str], *,
                           role: str | None = None) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        await self.request("POST", f"/bridges/{_q(bridge_id)}/addChannel",
                           params={"channel": ",".join(ids), "role": role})

    add_channel = add_channels

    async def remove_channels(self, bridge_id: str, channel_ids: str | Iterable[str]) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        await self.request("POST", f"/bridges/{_q(bridge_id)}/removeChannel",
                           params={"channel": ",".join(ids)})

    remove_channel = remove_channels

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_q(bridge_id)}")

    async def start_bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{_q(bridge_id)}/moh", params={"mohClass": moh_class})

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_q(bridge_id)}/moh")

    async def play_on_bridge(self, bridge_id: str, media: str | Iterable[str], *,
                             lang: str | None = None) -> str:
        items = [media] if isinstance(media, str) else list(media)
        result = await self.request("POST", f"/bridges/{_q(bridge_id)}/play",
                                    params={"media": ",".join(items), "lang": lang})
        return str(result["id"])

    # ------------------------------------------------------------------ playbacks

    async def get_playback(self, playback_id: str) -> dict[str, Any]:
        return await self._obj("GET", f"/playbacks/{_q(playback_id)}")

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{_q(playback_id)}")

    # ------------------------------------------------------------------ applications

    async def get_application(self, app: str | None = None) -> dict[str, Any]:
        return await self._obj("GET", f"/applications/{_q(app or self.app)}")

    async def subscribe(self, event_source: str | Iterable[str], app: str | None = None) -> dict[str, Any]:
        """Subscribe the app to ``channel:<id>``, ``bridge:<id>``, ``endpoint:<tech>/<res>``
        or ``deviceState:<name>`` events."""
        sources = [event_source] if isinstance(event_source, str) else list(event_source)
        return await self._obj("POST", f"/applications/{_q(app or self.app)}/subscription",
                                  params={"eventSource": ",".join(sources)})

    async def unsubscribe(self, event_source: str | Iterable[str], app: str | None = None) -> dict[str, Any]:
        sources = [event_source] if isinstance(event_source, str) else list(event_source)
        return await self._obj("DELETE", f"/applications/{_q(app or self.app)}/subscription",
                                  params={"eventSource": ",".join(sources)})

    # ------------------------------------------------------------------ endpoints

    async def get_endpoint(self, tech: str, resource: str) -> dict[str, Any]:
        """E.g. ``("PJSIP", "op1")``: ``state`` is ``online`` once the softphone registered."""
        return await self._obj("GET", f"/endpoints/{_q(tech)}/{_q(resource)}")

    # ------------------------------------------------------------------ events

    def events(
        self,
        handler: EventHandler,
        *,
        on_connected: ConnectedHook | None = None,
        subscribe_all: bool = False,
        app: str | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        heartbeat: float = 10.0,
        key: Callable[[Event], str] | None = None,
    ) -> AriEventStream:
        """An events websocket for ``app`` (not started: call ``await stream.start()``)."""
        return AriEventStream(self, handler, on_connected=on_connected, subscribe_all=subscribe_all,
                              app=app or self.app, backoff_initial=backoff_initial,
                              backoff_max=backoff_max, heartbeat=heartbeat, key=key)


def event_key(event: Event) -> str:
    """Which ordered lane an event belongs to: its channel, else bridge, else endpoint.

    Events of one channel are handled in order (StasisStart before its DTMF before its
    StasisEnd); different channels are handled concurrently. A playback or recording is
    keyed by its target (``channel:<id>``/``bridge:<id>``) so that PlaybackFinished stays
    in order with the channel's own events; Dial by its ``peer`` (the dialled channel).
    """
    for field in ("channel", "peer"):
        obj = event.get(field)
        if isinstance(obj, dict) and obj.get("id"):
            return f"channel:{obj['id']}"
    for field in ("playback", "recording"):
        obj = event.get(field)
        if isinstance(obj, dict):
            target = obj.get("target_uri", "")
            if target.startswith(("channel:", "bridge:")):
                return str(target)
            if obj.get("id") or obj.get("name"):
                return f"{field}:{obj.get('id') or obj.get('name')}"
    for field, ident in (("bridge", "id"), ("endpoint", "resource")):
        obj = event.get(field)
        if isinstance(obj, dict) and obj.get(ident):
            return f"{field}:{obj[ident]}"
    return "global"


class AriEventStream:
    """The events websocket with reconnect, reconciliation hook and non-blocking dispatch.

    Attributes useful to tests and health checks: ``connected`` (an :class:`asyncio.Event`
    set while the websocket is open), ``connect_count`` (how many times it connected),
    ``last_connected_at`` (``time.monotonic()``).
    """

    def __init__(
        self,
        client: AriClient,
        handler: EventHandler,
        *,
        on_connected: ConnectedHook | None,
        subscribe_all: bool,
        app: str,
        backoff_initial: float,
        backoff_max: float,
        heartbeat: float,
        key: Callable[[Event], str] | None,
    ) -> None:
        self.client = client
        self.handler = handler
        self.on_connected = on_connected
        self.subscribe_all = subscribe_all
        self.app = app
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.heartbeat = heartbeat
        self.key = key or event_key
        self.connected = asyncio.Event()
        self.connect_count = 0
        self.last_connected_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = False
        # Per-key FIFO lanes; a lane's worker exits when its queue is empty.
        self._lanes: dict[str, asyncio.Queue[Event]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        # Events are handled only once on_connected (reconciliation) has finished, so the
        # app never sees an event about a channel before it has rebuilt its state.
        self._ready = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ari-events-{self.app}")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def stop(self) -> None:
        """Close the websocket, stop reconnecting, and let queued handlers finish briefly."""
        self._stopping = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._workers:
            _done, pending = await asyncio.wait(self._workers, timeout=2.0)
            for task in pending:
                task.cancel()
        self.connected.clear()

    async def __aenter__(self) -> AriEventStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ reader

    def _ws_url(self) -> str:
        base = self.client.base_url
        scheme, rest = base.split("://", 1)
        ws_scheme = "wss" if scheme == "https" else "ws"
        return f"{ws_scheme}://{rest}/events"

    async def _run(self) -> None:
        delay = self.backoff_initial
        while not self._stopping:
            try:
                params = {
                    "app": self.app,
                    "api_key": f"{self.client.username}:{self.client.password}",
                    "subscribeAll": _bool(self.subscribe_all),
                }
                async with self.client.session.ws_connect(
                    self._ws_url(), params=params, heartbeat=self.heartbeat, autoping=True,
                    max_msg_size=0,
                ) as ws:
                    self._ws = ws
                    delay = self.backoff_initial  # a good connection resets the backoff
                    self.connect_count += 1
                    self.last_connected_at = time.monotonic()
                    self.connected.set()
                    log.info("ARI events connected (app=%s, #%d)", self.app, self.connect_count)
                    self._ready.clear()
                    reconcile = asyncio.create_task(self._connected_hook())
                    try:
                        await self._read(ws)
                    finally:
                        if not reconcile.done():
                            reconcile.cancel()
                        self.connected.clear()
                        self._ready.set()  # let queued events drain
            except asyncio.CancelledError:
                raise
            except aiohttp.WSServerHandshakeError as exc:
                # 404/503: Asterisk's HTTP server is up but res_ari is not loaded yet (a
                # restart in progress). 401/400: bad credentials or app name; retry, loudly.
                level = logging.WARNING if exc.status in (404, 503) else logging.ERROR
                log.log(level, "ARI events websocket refused: HTTP %s", exc.status)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.warning("ARI events websocket unavailable: %r", exc)
            finally:
                self._ws = None
            if self._stopping:
                break
            # Jitter so that several app instances do not reconnect in lockstep.
            sleep = delay * (0.8 + 0.4 * random.random())
            log.info("ARI events: reconnecting in %.2fs", sleep)
            await asyncio.sleep(sleep)
            delay = min(delay * 2, self.backoff_max)

    async def _connected_hook(self) -> None:
        try:
            if self.on_connected is not None:
                await self.on_connected()
        except Exception:  # noqa: BLE001 - a failed reconciliation must not stop events
            log.exception("ARI on_connected hook failed")
        finally:
            self._ready.set()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = json.loads(msg.data)
                except ValueError:
                    log.warning("ARI events: undecodable message %.200s", msg.data)
                    continue
                if isinstance(event, dict):
                    self._dispatch(event)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
        log.warning("ARI events websocket closed (code %s)", ws.close_code)

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, event: Event) -> None:
        """Queue the event in its lane; never awaits, so the reader never blocks."""
        lane_key = self.key(event)
        lane = self._lanes.get(lane_key)
        if lane is None:
            lane = self._lanes[lane_key] = asyncio.Queue()
            worker = asyncio.create_task(self._lane_worker(lane_key, lane), name=f"ari-lane-{lane_key}")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        lane.put_nowait(event)

    async def _lane_worker(self, lane_key: str, lane: asyncio.Queue[Event]) -> None:
        await self._ready.wait()
        while True:
            try:
                event = lane.get_nowait()
            except asyncio.QueueEmpty:
                # No await between the empty check and the removal: _dispatch cannot slip
                # an event into a lane that is being retired.
                self._lanes.pop(lane_key, None)
                return
            try:
                await self.handler(event)
            except Exception:  # noqa: BLE001 - one bad event must not kill the lane
                log.exception("ARI event handler failed on %s", event.get("type"))
