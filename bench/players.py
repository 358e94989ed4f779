"""The load tool's endpoints: one publisher, counting players and measuring (probe) players.

Everything is an asyncio Protocol driven by the event loop's callbacks: no coroutine per player
and no parsing per player once a counting player is playing, so one uvloop process can hold
thousands of players. Measurement timestamps come from ``time.perf_counter`` (uvloop's
``loop.time()`` is cached per loop iteration with 1 ms resolution).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import socket
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from srs.format.flv import FlvReader, parse_file
from srs.format.ts import StreamType, TsDemuxer
from srs.protocol.rtmp.chunk import encode_message
from srs.protocol.rtmp.client import ClientSession
from srs.protocol.rtmp.events import (
    Connected,
    HandshakeCompleted,
    MediaReceived,
    StatusReceived,
)
from srs.protocol.rtmp.message import CSID_OVER_CONNECTION2, CSID_PROTOCOL_CONTROL, MessageType
from srs.util.errors import SrsError

now = time.perf_counter
TICK_S = 0.005  # publisher pacing granularity
PUBLISH_CHUNK_SIZE = 60_000  # as SRS's own edge/forward client does; fewer chunk headers
_ACK = struct.Struct(">I")

# One receive buffer shared by every counting player: uvloop reads straight into it
# (BufferedProtocol), so counting bytes allocates nothing.
_SHARED = bytearray(256 * 1024)
_SHARED_VIEW = memoryview(_SHARED)


# --------------------------------------------------------------------------- the stream


@dataclass(frozen=True, slots=True)
class Item:
    ts: int
    msg_type: int
    body: bytes
    crc: int | None  # CRC-32 of a frame body, unique in the file: how a probe recognises it (latency)


@dataclass(frozen=True, slots=True)
class Stream:
    prelude: list[Item]  # metadata and sequence headers, sent once at the start
    items: list[Item]  # the frames, looped with continuous timestamps
    loop_ms: int
    payload_bytes: int  # one loop's frame bytes
    unique_video_crcs: bool
    unique_audio_crcs: int  # audio frames recognisable by CRC (a repeated body is left out)

    @property
    def bitrate_kbps(self) -> float:
        return self.payload_bytes * 8 / self.loop_ms


def is_sequence_header(msg_type: int, body: bytes) -> bool:
    # FLV 10.1 E.4.2.1/E.4.3.1: AACPacketType / AVCPacketType 0 is the sequence header.
    if msg_type == MessageType.AUDIO:
        return len(body) >= 2 and body[0] >> 4 == 10 and body[1] == 0
    if msg_type == MessageType.VIDEO:
        return len(body) >= 2 and body[0] & 0x0F == 7 and body[1] == 0
    return False


def is_keyframe(body: bytes) -> bool:
    """An AVC key frame carrying NALUs (FrameType 1, AVCPacketType 1), not the sequence header."""
    return len(body) >= 2 and body[0] == 0x17 and body[1] == 1


def load_stream(path: str) -> Stream:
    with open(path, "rb") as f:
        _, tags = parse_file(f.read())
    prelude: list[Item] = []
    items: list[Item] = []
    seen: dict[int, int] = {}
    for t in tags:
        kind = int(t.tag_type)
        if not (kind == MessageType.AMF0_DATA or is_sequence_header(kind, t.body)):
            c = zlib.crc32(t.body)
            seen[c] = seen.get(c, 0) + 1
    for t in tags:
        kind = int(t.tag_type)
        if kind == MessageType.AMF0_DATA or is_sequence_header(kind, t.body):
            prelude.append(Item(0, kind, t.body, None))
        else:
            # Every A/V frame whose body is unique in the file is a latency sample (audio as well as
            # video: a server that held audio back to batch it would show it here).
            crc = zlib.crc32(t.body)
            items.append(Item(t.timestamp, kind, t.body, crc if seen[crc] == 1 else None))
    video = [i for i in items if i.msg_type == MessageType.VIDEO]
    audio = [i for i in items if i.msg_type == MessageType.AUDIO]
    vdur = (video[-1].ts - video[0].ts) / max(1, len(video) - 1) if len(video) > 1 else 40
    adur = (audio[-1].ts - audio[0].ts) / max(1, len(audio) - 1) if len(audio) > 1 else 23
    loop_ms = max(
        (video[-1].ts + round(vdur)) if video else 0,
        (audio[-1].ts + round(adur)) if audio else 0,
    )
    return Stream(
        prelude,
        items,
        loop_ms,
        sum(len(i.body) for i in items),
        all(i.crc is not None for i in video),
        sum(1 for i in audio if i.crc is not None),
    )


# --------------------------------------------------------------------------- publisher


class Publisher(asyncio.Protocol):
    """Publishes the stream in real time with our own sans-IO RTMP client, looping it forever."""

    def __init__(self, stream: Stream, tc_url: str, name: str) -> None:
        self.stream = stream
        self.tc_url = tc_url
        self.name = name
        self.session = ClientSession(random_bytes=os.urandom, epoch_ms=0)
        self.transport: asyncio.Transport | None = None
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: str | None = None
        self.sent_at: dict[int, float] = {}  # frame CRC -> perf_counter of its latest send
        self.sent_ts: dict[tuple[int, int], float] = {}  # (msg type, timestamp) -> send time (TS probes)
        self.times: list[float] = []  # send times ...
        self.cum: list[int] = []  # ... and payload bytes sent so far at each of them
        self.sent_bytes = 0
        self.max_backlog = 0  # bytes waiting in our transport: the server not reading fast enough
        self._t0 = 0.0
        self._loop_no = 0
        self._idx = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.session.receive_data(data)
        except SrsError as err:
            self._fail(f"publisher protocol error: {err}")
            return
        for e in events:
            if isinstance(e, HandshakeCompleted):
                self.session.connect(self.tc_url)
                self.session.set_chunk_size(PUBLISH_CHUNK_SIZE)
            elif isinstance(e, Connected):
                self.session.publish(self.name)
            elif isinstance(e, StatusReceived):
                code = e.info.get("code")
                if code == "NetStream.Publish.Start" and not self.started.done():
                    self._start()
                elif isinstance(code, str) and ("Error" in code or code.endswith("BadName")):
                    self._fail(f"publish refused: {e.info}")
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"publisher connection lost: {exc}")
        self.transport = None

    def _fail(self, why: str) -> None:
        if self.lost is None:
            self.lost = why
        if not self.started.done():
            self.started.set_exception(ConnectionError(why))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _flush(self) -> None:
        out = self.session.data_to_send()
        if out and self.transport is not None:
            self.transport.writelines(out)

    def _start(self) -> None:
        for it in self.stream.prelude:
            if it.msg_type == MessageType.AMF0_DATA:
                # The file's onMetaData body, sent as FFmpeg does on the data chunk stream.
                self.session.send_message(
                    it.msg_type, it.body, csid=CSID_OVER_CONNECTION2, stream_id=self.session.stream_id or 1
                )
            else:
                self.session.send_media(it.msg_type, 0, it.body)
        self._flush()
        self._t0 = now()
        self.times.append(self._t0)
        self.cum.append(0)
        self.started.set_result(None)
        self._tick()

    def _tick(self) -> None:
        t = now()
        elapsed_ms = (t - self._t0) * 1000
        items = self.stream.items
        loop_ms = self.stream.loop_ms
        sent = 0
        crcs: list[int] = []
        stamps: list[tuple[int, int]] = []
        while True:
            it = items[self._idx]
            ts = self._loop_no * loop_ms + it.ts
            if ts > elapsed_ms:
                break
            self.session.send_media(it.msg_type, ts, it.body)
            sent += len(it.body)
            if it.crc is not None:
                crcs.append(it.crc)
                stamps.append((it.msg_type, ts))
            self._idx += 1
            if self._idx == len(items):
                self._idx = 0
                self._loop_no += 1
        if sent and self.transport is not None:
            self._flush()
            t = now()
            for crc in crcs:
                self.sent_at[crc] = t
            for key in stamps:
                self.sent_ts[key] = t
            self.sent_bytes += sent
            self.times.append(t)
            self.cum.append(self.sent_bytes)
            self.max_backlog = max(self.max_backlog, self.transport.get_write_buffer_size())
        if self.transport is not None and self.lost is None:
            self._timer = asyncio.get_running_loop().call_later(TICK_S, self._tick)

    def bytes_at(self, t: float) -> float:
        """Payload bytes sent by time ``t`` (linear between sends)."""
        i = bisect.bisect_right(self.times, t)
        if i == 0:
            return 0.0
        if i == len(self.times):
            return float(self.cum[-1])
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cum[i - 1], self.cum[i]
        return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else float(c0)

    def close(self) -> None:
        self._fail("closed")
        if self.transport is not None:
            self.transport.abort()


# --------------------------------------------------------------------------- counting players


class CountingPlayer(asyncio.BufferedProtocol):
    """Base: counts every byte received; ``playing`` once the server said the play started.

    Once playing, the socket's SO_RCVLOWAT is raised to ``rcvlowat``: the kernel then wakes us
    only when that many bytes wait, so a server that writes every message separately (no merged
    write, e.g. nginx-rtmp) does not cost the tool one callback per message and player. What the
    server does is unchanged; the count may lag by < ``rcvlowat`` bytes at the window's edges.
    """

    __slots__ = ("bytes", "failed", "last_rx", "lost", "max_gap", "playing", "rcvlowat", "transport")

    def __init__(self, rcvlowat: int = 0) -> None:
        self.transport: asyncio.Transport | None = None
        self.bytes = 0
        self.playing = False
        self.failed: str | None = None
        self.lost = False
        self.rcvlowat = rcvlowat
        self.last_rx = 0.0  # when data last arrived ...
        self.max_gap = 0.0  # ... and the longest silence (diagnostics; reset by the tool)

    def _rx(self) -> None:
        t = now()
        if t - self.last_rx > self.max_gap:
            self.max_gap = t - self.last_rx
        self.last_rx = t

    def _start_counting(self) -> None:
        self.playing = True
        if self.rcvlowat > 1 and self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, self.rcvlowat)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _SHARED_VIEW

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None

    def fail(self, why: str) -> None:
        if self.failed is None:
            self.failed = why
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class RtmpCountingPlayer(CountingPlayer):
    """Handshake, connect, createStream, play with our client; then only count and acknowledge."""

    __slots__ = ("_ack_at", "_ack_window", "_session", "_stream", "_tc_url")

    def __init__(self, tc_url: str, stream: str, rcvlowat: int = 0) -> None:
        super().__init__(rcvlowat)
        self._tc_url = tc_url
        self._stream = stream
        self._session: ClientSession | None = ClientSession(random_bytes=os.urandom, epoch_ms=0)
        self._ack_window = 0
        self._ack_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._flush()

    def _flush(self) -> None:
        s = self._session
        if s is not None and self.transport is not None:
            out = s.data_to_send()
            if out:
                self.transport.writelines(out)

    def buffer_updated(self, nbytes: int) -> None:
        self.bytes += nbytes
        self._rx()
        s = self._session
        if s is None:
            # Counting: acknowledge every half window as SRS's own client does (RTMP 1.0 5.4.3).
            if self._ack_window and self.bytes >= self._ack_at and self.transport is not None:
                self._ack_at = self.bytes + self._ack_window // 2
                ack = _ACK.pack(self.bytes & 0xFFFFFFFF)
                self.transport.write(encode_message(CSID_PROTOCOL_CONTROL, 0, 3, 0, ack, 128))
            return
        try:
            events = s.receive_data(bytes(_SHARED_VIEW[:nbytes]))
        except SrsError as err:
            self.fail(f"rtmp: {err}")
            return
        for e in events:
            if isinstance(e, HandshakeCompleted):
                s.connect(self._tc_url)
            elif isinstance(e, Connected):
                s.play(self._stream)
            elif isinstance(e, StatusReceived):
                code = e.info.get("code")
                if code == "NetStream.Play.Start":
                    self._start_counting()
                elif isinstance(code, str) and ("Failed" in code or "Error" in code or "NotFound" in code):
                    self.fail(f"play refused: {code}")
        self._flush()
        if self.playing:
            # From now on nothing is parsed: the rest of this buffer and everything after is counted.
            self._ack_window = s.in_ack_size
            self._ack_at = s.bytes_received + self._ack_window // 2 if self._ack_window else 0
            self._session = None


class FlvCountingPlayer(CountingPlayer):
    """GET the .flv URL and count the response body (HTTP chunk framing included, <0.1%)."""

    __slots__ = ("_head", "_request")

    def __init__(self, host: str, port: int, path: str, rcvlowat: int = 0) -> None:
        super().__init__(rcvlowat)
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: srs-bench\r\nAccept: */*\r\n\r\n"
        ).encode()
        self._head = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        t: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = t
        t.write(self._request)

    def buffer_updated(self, nbytes: int) -> None:
        if self.playing:
            self.bytes += nbytes
            self._rx()
            return
        self._head += _SHARED_VIEW[:nbytes]
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > 16384:
                self.fail("http: response head too large")
            return
        status = bytes(self._head[: self._head.find(b"\r\n")])
        if b" 200 " not in status + b" ":
            self.fail(f"http: {status.decode('latin-1')}")
            return
        self._start_counting()
        self.bytes += len(self._head) - end - 4
        self._head = bytearray()


# --------------------------------------------------------------------------- probes


class Probe:
    """What both probes measure: time to first key frame, and latency per recognised A/V frame."""

    def __init__(
        self, publisher: Publisher, t_start: float, on_keyframe: Callable[[Probe], None] | None
    ) -> None:
        self.publisher = publisher
        self.t_start = t_start
        self.ttff_ms: float | None = None
        self.steps_ms: dict[str, float] = {}  # when each setup step completed, ms after t_start
        self.recording = False
        self.latencies_ms: list[float] = []  # every recognised audio and video frame
        self.video_latencies_ms: list[float] = []
        self.audio_latencies_ms: list[float] = []
        self.unmatched = 0
        self.bytes = 0
        self.lost = False
        self.failed: str | None = None
        self.transport: asyncio.Transport | None = None
        self._on_keyframe = on_keyframe

    def on_video(self, body: bytes, t: float) -> None:
        if self.ttff_ms is None:
            self.step("first_video", t)
        if self.ttff_ms is None and is_keyframe(body):
            self.ttff_ms = (t - self.t_start) * 1000
            if self._on_keyframe is not None:
                self._on_keyframe(self)
        if self.recording and len(body) > 2 and body[1] == 1:
            self._sample(body, t, self.video_latencies_ms)

    def on_audio(self, body: bytes, t: float) -> None:
        if self.recording and len(body) > 2 and body[1] == 1:  # AAC raw frame (not the sequence header)
            self._sample(body, t, self.audio_latencies_ms)

    def _sample(self, body: bytes, t: float, into: list[float]) -> None:
        self._record(self.publisher.sent_at.get(zlib.crc32(body)), t, into)

    def _record(self, sent: float | None, t: float, into: list[float]) -> None:
        """One frame sent at ``sent`` (None: not recognised) and received at ``t``."""
        if sent is None or sent > t:
            self.unmatched += 1
        else:
            ms = (t - sent) * 1000
            into.append(ms)
            self.latencies_ms.append(ms)

    def step(self, name: str, t: float | None = None) -> None:
        if name not in self.steps_ms:
            self.steps_ms[name] = round(((now() if t is None else t) - self.t_start) * 1000, 2)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class RtmpProbe(Probe, asyncio.Protocol):
    """A fully parsing RTMP player (our client)."""

    def __init__(
        self,
        publisher: Publisher,
        tc_url: str,
        stream: str,
        t_start: float,
        on_keyframe: Callable[[Probe], None] | None = None,
    ) -> None:
        super().__init__(publisher, t_start, on_keyframe)
        self._tc_url = tc_url
        self._stream = stream
        self.session = ClientSession(random_bytes=os.urandom, epoch_ms=0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.step("tcp_connected")
        self._flush()

    def _flush(self) -> None:
        out = self.session.data_to_send()
        if out and self.transport is not None:
            self.transport.writelines(out)

    def data_received(self, data: bytes) -> None:
        t = now()
        if not self.bytes:
            self.step("first_byte", t)
        self.bytes += len(data)
        try:
            events = self.session.receive_data(data)
        except SrsError as err:
            self.failed = f"rtmp: {err}"
            self.close()
            return
        for e in events:
            if isinstance(e, MediaReceived):
                if e.msg_type == MessageType.VIDEO:
                    self.on_video(e.payload, t)
                elif e.msg_type == MessageType.AUDIO:
                    self.on_audio(e.payload, t)
            elif isinstance(e, HandshakeCompleted):
                self.step("handshake_done", t)
                self.session.connect(self._tc_url)
            elif isinstance(e, Connected):
                self.step("connected", t)
                self.session.play(self._stream)
            elif isinstance(e, StatusReceived) and e.info.get("code") == "NetStream.Play.Start":
                self.step("play_started", t)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None


class FlvProbe(Probe, asyncio.Protocol):
    """A fully parsing HTTP-FLV player: response head, HTTP/1.1 chunked body, FLV tags."""

    def __init__(
        self,
        publisher: Publisher,
        host: str,
        port: int,
        path: str,
        t_start: float,
        on_keyframe: Callable[[Probe], None] | None = None,
    ) -> None:
        super().__init__(publisher, t_start, on_keyframe)
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: srs-bench\r\n\r\n".encode()
        )
        self._buf = bytearray()
        self._head_done = False
        self._chunked = False
        self._remaining = 0  # bytes left in the current HTTP chunk
        self._need_crlf = False
        self._flv = FlvReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        t: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport = t
        self.step("tcp_connected")
        t.write(self._request)

    def data_received(self, data: bytes) -> None:
        t = now()
        if not self.bytes:
            self.step("first_byte", t)
        self.bytes += len(data)
        self._buf += data
        if not self._head_done:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[:end]).lower()
            status = head.split(b"\r\n")[0]
            if b" 200 " not in status + b" ":
                self.failed = f"http: {status!r}"
                self.close()
                return
            self._chunked = b"transfer-encoding: chunked" in head
            del self._buf[: end + 4]
            self._head_done = True
        body = self._dechunk() if self._chunked else self._take_all()
        self.on_body(body, t)

    def on_body(self, body: bytes, t: float) -> None:
        """Bytes of the response body that arrived at ``t``: FLV tags."""
        try:
            tags = self._flv.feed(body)
        except SrsError as e:
            self.failed = f"flv: {e}"
            self.close()
            return
        for tag in tags:
            if int(tag.tag_type) == MessageType.VIDEO:
                self.on_video(tag.body, t)
            elif int(tag.tag_type) == MessageType.AUDIO:
                self.on_audio(tag.body, t)

    def _take_all(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out

    def _dechunk(self) -> bytes:
        # RFC 9112 7.1: chunk-size [; ext] CRLF, data, CRLF; a 0 size ends the body.
        buf = self._buf
        out = bytearray()
        while buf:
            if self._remaining:
                take = min(self._remaining, len(buf))
                out += buf[:take]
                del buf[:take]
                self._remaining -= take
                if not self._remaining:
                    self._need_crlf = True
                continue
            if self._need_crlf:
                if len(buf) < 2:
                    break
                del buf[:2]
                self._need_crlf = False
                continue
            eol = buf.find(b"\r\n")
            if eol < 0:
                break
            size = int(bytes(buf[:eol]).split(b";")[0], 16)
            del buf[: eol + 2]
            if size == 0:
                self.close()
                break
            self._remaining = size
        return bytes(out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None


_TS_VIDEO = (StreamType.H264, StreamType.H265)


class TsProbe(FlvProbe):
    """A fully parsing HTTP-TS player: the HTTP framing of :class:`FlvProbe`, then MPEG-TS PES.
    Frames are recognised by their timestamp (TS carries Annex B / ADTS, not the FLV bodies):
    DTS for video, PTS for audio, in ms, as the publisher sent them."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._ts = TsDemuxer()

    def on_body(self, body: bytes, t: float) -> None:
        for f in self._ts.feed(body):
            video = f.stream_type in _TS_VIDEO
            stamp = f.dts if video and f.dts is not None else f.pts
            if stamp is None:
                continue
            if video and self.ttff_ms is None:
                self.step("first_video", t)
                if f.random_access:
                    self.ttff_ms = (t - self.t_start) * 1000
                    if self._on_keyframe is not None:
                        self._on_keyframe(self)
            if self.recording:
                kind = MessageType.VIDEO if video else MessageType.AUDIO
                self._sample_ts(
                    (int(kind), stamp // 90), t, self.video_latencies_ms if video else self.audio_latencies_ms
                )

    def _sample_ts(self, key: tuple[int, int], t: float, into: list[float]) -> None:
        sent = self.publisher.sent_ts.get(key)
        if sent is None:  # a millisecond of rounding either way
            sent = self.publisher.sent_ts.get((key[0], key[1] + 1)) or self.publisher.sent_ts.get(
                (key[0], key[1] - 1)
            )
        self._record(sent, t, into)
