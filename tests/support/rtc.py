"""WebRTC clients for tests and benches: WHIP publish and WHEP play with aiortc (asyncio).

    pub = await whip_publish("http://127.0.0.1:1985/rtc/v1/whip/?app=live&stream=x", clip, 5)
    play = await whep_play("http://127.0.0.1:1985/rtc/v1/whep/?app=live&stream=x", 5, until_frames=30)
    play.video_frames, play.video_codec, play.audio_nonsilent, play.first_frame_s

Any WHIP/WHEP server works: the offer is POSTed as ``application/sdp``, a ``201`` with the answer
and a ``Location`` is expected (relative Locations are resolved against the URL), and the
Location is DELETEd at the end. SRS's older JSON API (``/rtc/v1/publish/``, ``/rtc/v1/play/``:
``{"sdp", "streamurl"}`` in, ``{"code": 0, "sdp", "sessionid"}`` out) is :func:`legacy_publish`
and :func:`legacy_play`.

aioice leaves 127.0.0.1 out of the host candidates; we make it gather only 127.0.0.1 (tests use
loopback only, and SRS's answer for a loopback client names 127.0.0.1), see :func:`loopback_ice`.
aiortc has no ICE-TCP: ``tcp=True`` runs a :class:`TcpBridge` (a local UDP port that carries each
datagram over one TCP connection with RFC 4571's 2-byte length) and points the answer's UDP
candidate at it, so the server sees an ICE-TCP client. ``answer_hook`` rewrites the answer before
aiortc sees it, e.g. ``lambda sdp: rewrite_candidates(sdp, "127.0.0.1", relay_port)`` to send the
media through a :class:`~support.lossy.LossyRelay`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import re
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription as AiortcSdp

# offer -> (answer, location or session id)
Exchange = Callable[[aiohttp.ClientSession, str], Awaitable[tuple[str, str | None]]]
AnswerHook = Callable[[str], str]
CONNECT_TIMEOUT_S = 10.0
SILENCE_PEAK = 64  # s16 peak above which an audio frame counts as sound


class SignalError(Exception):
    """The server refused the offer (status code and body in the message)."""


def loopback_ice() -> None:
    """Make aioice gather 127.0.0.1 only (it skips loopback by default). Idempotent, process-wide."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


# ---------------------------------------------------------------------------------- SDP helpers


@dataclass(frozen=True)
class Candidate:
    protocol: str  # "udp" | "tcp"
    host: str
    port: int
    type: str  # "host", ...
    tcptype: str | None


_CAND = re.compile(r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$")


def candidates(sdp: str) -> list[Candidate]:
    """The ``a=candidate`` lines of ``sdp`` (every m-section), in order."""
    out = []
    for line in sdp.splitlines():
        m = _CAND.match(line.strip())
        if m:
            tail = m.group(8).split()
            tcptype = tail[tail.index("tcptype") + 1] if "tcptype" in tail[:-1] else None
            out.append(Candidate(m.group(3).lower(), m.group(5), int(m.group(6)), m.group(7), tcptype))
    return out


def ice_credentials(sdp: str) -> tuple[str, str]:
    """The first ``a=ice-ufrag`` and ``a=ice-pwd`` of ``sdp``."""
    ufrag = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.M)
    pwd = re.search(r"^a=ice-pwd:(\S+)", sdp, re.M)
    if not ufrag or not pwd:
        raise ValueError("sdp without ice-ufrag/ice-pwd")
    return ufrag.group(1), pwd.group(1)


def rewrite_candidates(sdp: str, host: str, port: int, *, protocol: str = "udp") -> str:
    """Every ``a=candidate`` of ``protocol`` becomes a UDP host candidate at ``host:port``; the
    others are dropped. ``protocol="tcp"`` turns the server's ICE-TCP candidate into a UDP one
    (for a :class:`TcpBridge`)."""
    lines = []
    for line in sdp.splitlines():
        m = _CAND.match(line.strip())
        if m is None:
            lines.append(line)
        elif m.group(3).lower() == protocol:
            lines.append(
                f"a=candidate:{m.group(1)} {m.group(2)} udp {m.group(4)} {host} {port} typ host generation 0"
            )
    return "\r\n".join(lines) + "\r\n"


def negotiated_codecs(answer: str) -> dict[str, str]:
    """``{"audio": "audio/opus", "video": "video/H264"}``: the first codec of each accepted m-line."""
    out: dict[str, str] = {}
    for m in AiortcSdp.parse(answer).media:
        if m.port != 0 and m.rtp.codecs and m.kind not in out:
            out[m.kind] = m.rtp.codecs[0].mimeType
    return out


def prefer_codec(transceiver: RTCRtpTransceiver, codec: str) -> None:
    """Offer only ``codec`` (``"H264"``, ``"VP8"``, ``"opus"``...) on ``transceiver``."""
    caps = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == f"{transceiver.kind}/{codec}".lower()]
    if not chosen:
        raise ValueError(f"aiortc has no {transceiver.kind} codec {codec}")
    transceiver.setCodecPreferences(chosen)


def audio_peak(frame: Any) -> int:
    """The largest absolute sample of an s16 (packed or planar) ``av.AudioFrame`` (no numpy here)."""
    if frame.format.name not in ("s16", "s16p"):
        raise ValueError(f"audio frame format {frame.format.name}, not s16")
    peak = 0
    for plane in frame.planes:
        samples = array.array("h", bytes(plane)[: plane.buffer_size - plane.buffer_size % 2])
        if samples:
            peak = max(peak, max(samples), -min(samples))
    return peak


# ---------------------------------------------------------------------------------- signalling


def whip_exchange(url: str) -> Exchange:
    """WHIP/WHEP: POST ``application/sdp`` to ``url``, expect 201 + answer + Location."""

    async def go(http: aiohttp.ClientSession, offer: str) -> tuple[str, str | None]:
        async with http.post(url, data=offer, headers={"Content-Type": "application/sdp"}) as r:
            body = await r.text()
            if r.status != 201:
                raise SignalError(f"POST {url}: {r.status} {body[:300]}")
            loc = r.headers.get("Location")
            return body, urljoin(url, loc) if loc else None

    return go


def legacy_exchange(url: str, streamurl: str) -> Exchange:
    """SRS's JSON API: POST ``{"api", "streamurl", "sdp", "tid"}``; the answer's ``code`` must be 0.
    The second value returned is the ``sessionid`` (there is no Location to DELETE)."""

    async def go(http: aiohttp.ClientSession, offer: str) -> tuple[str, str | None]:
        req = {
            "api": url,
            "streamurl": streamurl,
            "clientip": None,
            "sdp": offer,
            "tid": f"{time.time_ns():x}",
        }
        async with http.post(url, data=json.dumps(req), headers={"Content-Type": "application/json"}) as r:
            body = await r.text()
        try:
            data = json.loads(body)
        except ValueError:
            raise SignalError(f"POST {url}: {r.status} not JSON: {body[:300]}") from None
        if r.status != 200 or data.get("code") != 0 or "sdp" not in data:
            raise SignalError(f"POST {url}: {r.status} {body[:300]}")
        return str(data["sdp"]), data.get("sessionid")

    return go


# ---------------------------------------------------------------------------------- ICE-TCP bridge


class TcpBridge(asyncio.DatagramProtocol):
    """A local UDP port whose datagrams go over one TCP connection to ``target`` framed as RFC 4571
    (2-byte big-endian length), and back: lets aiortc (UDP only) talk to an ICE-TCP candidate."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._peer: tuple[str, int] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.datagrams_up = self.datagrams_down = 0

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        reader, self._writer = await asyncio.open_connection(*self.target)
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self._udp = transport
        self.port = transport.get_extra_info("sockname")[1]
        self._task = asyncio.ensure_future(self._down(reader))
        return self.port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._peer = addr
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(struct.pack("!H", len(data)) + data)
            self.datagrams_up += 1

    async def _down(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(n)
                if self._udp is not None and self._peer is not None:
                    self._udp.sendto(data, self._peer)
                    self.datagrams_down += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()
        if self._udp is not None:
            self._udp.close()


# ---------------------------------------------------------------------------------- results


@dataclass
class PublishResult:
    offer: str = ""
    answer: str = ""
    location: str | None = None  # WHIP Location (absolute), or the legacy API's sessionid
    connected: bool = False  # ICE + DTLS reached "connected"
    states: list[str] = field(default_factory=list)  # connectionState changes
    codecs: dict[str, str] = field(default_factory=dict)  # negotiated: {"video": "video/H264", ...}
    packets_sent: dict[str, int] = field(default_factory=dict)  # per kind, from getStats
    delete_status: int | None = None


@dataclass
class PlayResult:
    offer: str = ""
    answer: str = ""
    location: str | None = None
    connected: bool = False
    states: list[str] = field(default_factory=list)
    codecs: dict[str, str] = field(default_factory=dict)
    video_frames: int = 0
    video_sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    audio_frames: int = 0
    audio_samples: int = 0  # per channel
    audio_rate: int = 0
    audio_nonsilent: bool = False
    first_frame_s: float | None = None  # first decoded video frame, seconds after the offer was sent
    video_times: list[float] = field(default_factory=list)  # each decoded video frame, as first_frame_s
    delete_status: int | None = None
    errors: list[str] = field(default_factory=list)  # what stopped a track's reader early

    @property
    def video_codec(self) -> str | None:
        return self.codecs.get("video")

    @property
    def audio_codec(self) -> str | None:
        return self.codecs.get("audio")


# ---------------------------------------------------------------------------------- the session


async def _negotiate(
    pc: RTCPeerConnection,
    http: aiohttp.ClientSession,
    exchange: Exchange,
    result: PublishResult | PlayResult,
    tcp: bool,
    answer_hook: AnswerHook | None,
    bridges: list[TcpBridge],
) -> asyncio.Event:
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def _state() -> None:
        result.states.append(pc.connectionState)
        if pc.connectionState == "connected":
            result.connected = True
            connected.set()
        elif pc.connectionState in ("failed", "closed"):
            connected.set()

    await pc.setLocalDescription(await pc.createOffer())
    result.offer = pc.localDescription.sdp
    answer, result.location = await exchange(http, result.offer)
    result.answer = answer
    result.codecs = negotiated_codecs(answer)
    if tcp:
        tcp_cands = [c for c in candidates(answer) if c.protocol == "tcp"]
        if not tcp_cands:
            raise SignalError("tcp=True but the answer has no tcp candidate")
        bridge = TcpBridge((tcp_cands[0].host, tcp_cands[0].port))
        bridges.append(bridge)
        answer = rewrite_candidates(answer, "127.0.0.1", await bridge.start(), protocol="tcp")
    if answer_hook is not None:
        answer = answer_hook(answer)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return connected


async def _finish(
    pc: RTCPeerConnection, http: aiohttp.ClientSession, result: PublishResult | PlayResult, delete: bool
) -> None:
    if delete and result.location and result.location.startswith("http"):
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
            async with http.delete(result.location) as r:
                result.delete_status = r.status
    await pc.close()


async def publish(
    exchange: Exchange,
    media: Path | str,
    seconds: float,
    *,
    video_codec: str = "H264",
    tcp: bool = False,
    answer_hook: AnswerHook | None = None,
    media_format: str | None = None,
    media_options: dict[str, str] | None = None,
    delete: bool = True,
) -> PublishResult:
    """Publish ``media`` (any file ffmpeg reads, looped; or ``media_format="lavfi"``) over
    ``exchange`` for ``seconds`` after the connection is up; aiortc encodes H.264/VP8 and Opus."""
    loopback_ice()
    result = PublishResult()
    player = MediaPlayer(str(media), format=media_format, options=media_options, loop=media_format is None)
    pc = RTCPeerConnection()
    bridges: list[TcpBridge] = []
    if player.audio is not None:
        prefer_codec(pc.addTransceiver(player.audio, direction="sendonly"), "opus")
    if player.video is not None:
        prefer_codec(pc.addTransceiver(player.video, direction="sendonly"), video_codec)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            connected = await _negotiate(pc, http, exchange, result, tcp, answer_hook, bridges)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(connected.wait(), CONNECT_TIMEOUT_S)
            if result.connected:
                await asyncio.sleep(seconds)
                stats = await pc.getStats()
                for s in stats.values():
                    if s.type == "outbound-rtp":
                        result.packets_sent[s.kind] = result.packets_sent.get(s.kind, 0) + s.packetsSent
        finally:
            await _finish(pc, http, result, delete)
            for b in bridges:
                await b.close()
    return result


async def play(
    exchange: Exchange,
    seconds: float,
    *,
    video_codec: str = "H264",
    until_frames: int = 0,
    until_audio_frames: int = 0,
    tcp: bool = False,
    answer_hook: AnswerHook | None = None,
    delete: bool = True,
) -> PlayResult:
    """Play over ``exchange`` (recvonly audio + video) for ``seconds`` after the offer is sent, or
    until ``until_frames`` video and ``until_audio_frames`` audio frames were decoded (both 0: run
    the whole time)."""
    loopback_ice()
    result = PlayResult()
    pc = RTCPeerConnection()
    bridges: list[TcpBridge] = []
    prefer_codec(pc.addTransceiver("audio", direction="recvonly"), "opus")
    prefer_codec(pc.addTransceiver("video", direction="recvonly"), video_codec)
    enough = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    t0 = time.monotonic()

    async def consume(track: MediaStreamTrack) -> None:
        try:
            while True:
                frame: Any = await track.recv()
                if track.kind == "video":
                    result.video_frames += 1
                    result.video_sizes[(frame.width, frame.height)] += 1
                    result.video_times.append(time.monotonic() - t0)
                    if result.first_frame_s is None:
                        result.first_frame_s = time.monotonic() - t0
                else:
                    result.audio_frames += 1
                    result.audio_samples += frame.samples
                    result.audio_rate = frame.sample_rate
                    if not result.audio_nonsilent and audio_peak(frame) > SILENCE_PEAK:
                        result.audio_nonsilent = True
                if (until_frames or until_audio_frames) and (
                    result.video_frames >= until_frames and result.audio_frames >= until_audio_frames
                ):
                    enough.set()
        except MediaStreamError:
            pass
        except Exception as e:  # a broken frame must not vanish in a task nobody awaits
            result.errors.append(f"{track.kind}: {e!r}")

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        tasks.append(asyncio.ensure_future(consume(track)))

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            await _negotiate(pc, http, exchange, result, tcp, answer_hook, bridges)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(enough.wait(), max(0.0, seconds - (time.monotonic() - t0)))
        finally:
            await _finish(pc, http, result, delete)
            for t in tasks:
                t.cancel()
            for b in bridges:
                await b.close()
    return result


async def whip_publish(
    url: str,
    media: Path | str,
    seconds: float,
    *,
    video_codec: str = "H264",
    tcp: bool = False,
    answer_hook: AnswerHook | None = None,
    media_format: str | None = None,
    media_options: dict[str, str] | None = None,
) -> PublishResult:
    """WHIP publish of ``media`` to ``url`` for ``seconds``; DELETEs the Location at the end."""
    return await publish(
        whip_exchange(url),
        media,
        seconds,
        video_codec=video_codec,
        tcp=tcp,
        answer_hook=answer_hook,
        media_format=media_format,
        media_options=media_options,
    )


async def whep_play(
    url: str,
    seconds: float,
    *,
    video_codec: str = "H264",
    until_frames: int = 0,
    until_audio_frames: int = 0,
    tcp: bool = False,
    answer_hook: AnswerHook | None = None,
) -> PlayResult:
    """WHEP play of ``url``; DELETEs the Location at the end."""
    return await play(
        whip_exchange(url),
        seconds,
        video_codec=video_codec,
        until_frames=until_frames,
        until_audio_frames=until_audio_frames,
        tcp=tcp,
        answer_hook=answer_hook,
    )


async def legacy_publish(
    url: str, streamurl: str, media: Path | str, seconds: float, **kw: Any
) -> PublishResult:
    """SRS JSON API publish: ``url`` is ``http://host:1985/rtc/v1/publish/``, ``streamurl``
    ``webrtc://host/app/stream``; keyword arguments as :func:`publish`."""
    return await publish(legacy_exchange(url, streamurl), media, seconds, **kw)


async def legacy_play(url: str, streamurl: str, seconds: float, **kw: Any) -> PlayResult:
    """SRS JSON API play (``/rtc/v1/play/``); keyword arguments as :func:`play`."""
    return await play(legacy_exchange(url, streamurl), seconds, **kw)
