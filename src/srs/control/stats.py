"""Statistics of vhosts, streams and clients (SRS ``SrsStatistic``, ``srs_app_statistic.cpp``).

What the HTTP API, the Prometheus exporter, hooks and the heartbeat read. The rules are SRS's:

* a vhost entry is created on first use and never removed;
* a stream entry is keyed by the stream URL without extension (``/live/x``, ``v.com/live/x``) and
  lives while it has clients or an active publisher (``cleanup_stream``);
* ``publish`` marks the stream active and counts it in its vhost once; ``close`` undoes that and
  forgets the codec info;
* a client registration counts in its stream and vhost; ``frames`` is the cumulative number of
  video frames of the stream;
* API lists are ordered by the internal id (SRS iterates a ``std::map`` keyed by random ids).

Byte counters: :meth:`Statistics.sample` (called every second by the app) reads each client
connection's cumulative ``send_bytes``/``recv_bytes`` and adds the delta to the client, its stream,
its vhost and the server (SRS ``kbps_add_delta``), then records a sample for the 30 s bitrate
windows. Nothing here runs per media message.

Kbps: SRS's ``kbps.recv_30s`` is a tumbling 30 s window that reads 0 for the first 30 s and then
changes every 30 s. Ours slides: the rate over the last (up to) 30 samples, updated every second,
so a fresh stream shows its bitrate after two samples. Same unit (kbit/s, integer).
"""

from __future__ import annotations

import secrets
import string
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import psutil

from srs.control import api_codec

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.server.context import ServerContext
    from srs.server.policy import Client

WINDOW_SAMPLES = 30  # kbps_*_30s: the rate over the last 30 one-second samples
_RING = WINDOW_SAMPLES + 1  # samples kept: both ends of a 30-interval window
_ID_CHARS = string.digits + string.ascii_lowercase


class SourceFinder(Protocol):
    """Where the live sources are (``ServerContext.registry``)."""

    def find(self, url: str) -> Source | None: ...


def stat_id() -> str:
    """SRS ``srs_generate_stat_vid``: ``vid-`` + 7 random chars (vhost and stream ids)."""
    return "vid-" + "".join(secrets.choice(_ID_CHARS) for _ in range(7))


class SampleClock:
    """Sample instants shared by every counter (all are sampled in the same :meth:`Statistics.sample`)."""

    __slots__ = ("seq", "times")

    def __init__(self) -> None:
        self.seq = 0  # samples taken so far
        self.times = array("d", bytes(8 * _RING))  # sample time (s) by slot = seq % _RING


class Kbps:
    """Cumulative bytes plus a ring of the totals at the last ``_RING`` samples (SRS ``SrsKbps``).

    The ring is one flat ``array`` (send, recv interleaved): ~0.5 KiB per counter whatever the
    traffic, so thousands of clients stay cheap.
    """

    __slots__ = ("_born", "_clock", "_ring", "recv_bytes", "send_bytes")

    def __init__(self, clock: SampleClock) -> None:
        self._clock = clock
        self._born = clock.seq  # the first sample this counter takes part in
        self._ring = array("q", bytes(16 * _RING))
        self.send_bytes = 0
        self.recv_bytes = 0

    def add(self, send: int, recv: int) -> None:
        self.send_bytes += send
        self.recv_bytes += recv

    def record(self, slot: int) -> None:
        i = slot + slot
        r = self._ring
        r[i] = self.send_bytes
        r[i + 1] = self.recv_bytes

    def _rate(self, offset: int) -> int:
        clock = self._clock
        n = min(clock.seq - self._born, _RING)
        if n < 2:
            return 0
        last = (clock.seq - 1) % _RING
        first = (clock.seq - n) % _RING
        dt_ms = (clock.times[last] - clock.times[first]) * 1000.0
        if dt_ms <= 0:
            return 0
        delta = self._ring[last + last + offset] - self._ring[first + first + offset]
        return max(0, int(delta * 8 / dt_ms))  # bytes*8/ms = kbit/s

    @property
    def send_kbps_30s(self) -> int:
        return self._rate(0)

    @property
    def recv_kbps_30s(self) -> int:
        return self._rate(1)


class _Counted:
    """Byte counters and 30 s rates, as the API and exporter read them."""

    kbps: Kbps

    @property
    def send_bytes(self) -> int:
        return self.kbps.send_bytes

    @property
    def recv_bytes(self) -> int:
        return self.kbps.recv_bytes

    @property
    def kbps_send_30s(self) -> int:
        return self.kbps.send_kbps_30s

    @property
    def kbps_recv_30s(self) -> int:
        return self.kbps.recv_kbps_30s


class VhostStat(_Counted):
    __slots__ = ("clients", "id", "kbps", "name", "streams")

    def __init__(self, name: str, clock: SampleClock, vid: str) -> None:
        self.id = vid
        self.name = name
        self.clients = 0
        self.streams = 0  # active (published) streams
        self.kbps = Kbps(clock)

    def __repr__(self) -> str:
        return f"VhostStat({self.id}, {self.name}, clients={self.clients}, streams={self.streams})"


class StreamStat(_Counted):
    """One stream (SRS ``SrsStatisticStream``)."""

    __slots__ = (
        "_acc_frames",
        "_audio",
        "_frame_audio",
        "_frames_mark",
        "_registry",
        "_src",
        "_video",
        "active",
        "app",
        "clients",
        "id",
        "kbps",
        "name",
        "publisher_cid",
        "tc_url",
        "url",
        "vhost",
    )

    def __init__(
        self,
        vhost: VhostStat,
        app: str,
        name: str,
        url: str,
        tc_url: str,
        clock: SampleClock,
        sid: str,
        registry: SourceFinder | None,
    ) -> None:
        self.id = sid
        self.vhost = vhost
        self.app = app
        self.name = name
        self.url = url
        self.tc_url = tc_url
        self.clients = 0  # registered clients, the publisher included
        self.active = False
        self.publisher_cid = ""
        self.kbps = Kbps(clock)
        self._registry = registry
        self._src: Source | None = None
        self._frames_mark = 0
        self._acc_frames = 0
        # Codec info cache: (payload the info was computed from, info).
        self._video: tuple[bytes, dict[str, Any] | None] | None = None
        self._audio: tuple[bytes, dict[str, Any] | None] | None = None
        self._frame_audio: dict[str, Any] | None = None  # MP3 & co (no sequence header), from a frame

    # ------------------------------------------------------------------ live source

    @property
    def source(self) -> Source | None:
        """The live :class:`~srs.media.source.Source` of this stream, if any."""
        return self._registry.find(self.url) if self._registry is not None else None

    @property
    def frames(self) -> int:
        """Cumulative video frames (SRS ``frames``), across republishes and source objects."""
        src = self.source
        if src is not self._src:
            if self._src is not None:
                self._acc_frames += max(0, self._src.video_frames - self._frames_mark)
            self._src = src
            self._frames_mark = 0
        if src is None:
            return self._acc_frames
        return self._acc_frames + max(0, src.video_frames - self._frames_mark)

    # ------------------------------------------------------------------ codec info (API time, cached)

    def video_info(self) -> dict[str, Any] | None:
        """``{codec, profile, level, width, height}`` or None while unknown (SRS ``video: null``)."""
        if not self.active:
            return None
        src = self.source
        sh = src.video_sh if src is not None else None
        if sh is None:
            return None
        cached = self._video
        if cached is None or cached[0] is not sh.payload:
            cached = self._video = (sh.payload, api_codec.video_info(sh.payload))
        return cached[1]

    def audio_info(self) -> dict[str, Any] | None:
        """``{codec, sample_rate, channel, profile}`` or None while unknown (SRS ``audio: null``)."""
        if not self.active:
            return None
        src = self.source
        if src is None:
            return None
        sh = src.audio_sh
        if sh is not None:
            cached = self._audio
            if cached is None or cached[0] is not sh.payload:
                cached = self._audio = (sh.payload, api_codec.audio_info(sh.payload))
            return cached[1]
        if self._frame_audio is None and src.last_audio is not None:
            # No sequence header (MP3, legacy codecs): learn it from the newest audio frame.
            self._frame_audio = api_codec.audio_info_from_frame(src.last_audio.payload)
        return self._frame_audio

    def _closed(self) -> None:
        """SRS ``close()``: codec info is forgotten with the publisher."""
        self._video = self._audio = None
        self._frame_audio = None

    def __repr__(self) -> str:
        return f"StreamStat({self.id}, {self.url}, clients={self.clients}, active={self.active})"


class ClientStat(_Counted):
    """One client (SRS ``SrsStatisticClient``)."""

    __slots__ = ("_clock", "_last_recv", "_last_send", "client", "created", "kbps", "stream")

    def __init__(
        self, client: Client, stream: StreamStat, sample_clock: SampleClock, clock: Callable[[], float]
    ) -> None:
        self.client = client
        self.stream = stream
        self.created = client.created  # kept across re-registrations (republish), as SRS
        self.kbps = Kbps(sample_clock)
        self._clock = clock
        self._last_send = 0  # the connection's counters at the last sample
        self._last_recv = 0

    @property
    def id(self) -> str:
        return self.client.cid

    @property
    def alive(self) -> float:
        """Seconds since the client was first registered."""
        return max(0.0, self._clock() - self.created)

    def take_delta(self) -> tuple[int, int]:
        """Bytes the connection moved since the last call (never negative)."""
        conn = self.client.conn
        s, r = conn.send_bytes, conn.recv_bytes
        ds, dr = s - self._last_send, r - self._last_recv
        if ds < 0:
            ds = 0
        if dr < 0:
            dr = 0
        self._last_send, self._last_recv = s, r
        return ds, dr

    def __repr__(self) -> str:
        return f"ClientStat({self.id}, {self.client.kind}, {self.stream.url})"


@dataclass(frozen=True, slots=True)
class Totals:
    """Server-wide numbers (SRS ``dumps_metrics``)."""

    send_bytes: int
    recv_bytes: int
    streams: int  # stream entries (published or with players)
    clients: int  # clients registered now
    clients_total: int  # registrations since start
    errors: int  # clients that ended with an error


class _Sorted:
    """A dict plus its values sorted by key, rebuilt lazily after a change (API lists by id)."""

    __slots__ = ("_items", "_sorted")

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._sorted: list[Any] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Any:
        return self._items.get(key)

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value
        self._sorted = None

    def pop(self, key: str) -> Any:
        v = self._items.pop(key, None)
        if v is not None:
            self._sorted = None
        return v

    def values(self) -> Iterator[Any]:
        return iter(self._items.values())

    def ordered(self) -> list[Any]:
        if self._sorted is None:
            self._sorted = [self._items[k] for k in sorted(self._items)]
        return self._sorted


class Statistics:
    def __init__(self, ctx: ServerContext, *, clock: Callable[[], float] = time.time) -> None:
        self.proc = psutil.Process()  # this server process: CPU/memory for summaries
        self.ctx = ctx
        self._clock = clock
        self._samples = SampleClock()
        self.kbps = Kbps(self._samples)  # the server's
        self._vhosts = _Sorted()  # by id
        self._vhosts_by_name: dict[str, VhostStat] = {}
        self._streams = _Sorted()  # by id
        self._streams_by_url: dict[str, StreamStat] = {}
        self._clients = _Sorted()  # by cid
        self._clients_total = 0
        self._errors = 0

    # ------------------------------------------------------------------ lookups

    def vhosts(self) -> list[VhostStat]:
        return list(self._vhosts.ordered())

    def vhost(self, vid: str) -> VhostStat | None:
        v: VhostStat | None = self._vhosts.get(vid)
        return v

    def vhost_by_name(self, name: str) -> VhostStat | None:
        return self._vhosts_by_name.get(name)

    def streams(self) -> list[StreamStat]:
        return list(self._streams.ordered())

    def stream(self, sid: str) -> StreamStat | None:
        s: StreamStat | None = self._streams.get(sid)
        return s

    def stream_by_url(self, url: str) -> StreamStat | None:
        return self._streams_by_url.get(url)

    def clients(self) -> list[ClientStat]:
        return list(self._clients.ordered())

    def client(self, cid: str) -> ClientStat | None:
        c: ClientStat | None = self._clients.get(cid)
        return c

    def streams_page(self, start: int, count: int) -> list[StreamStat]:
        """``streams()[start:start+count]`` without copying the whole list."""
        out: list[StreamStat] = self._streams.ordered()[start : start + count]
        return out

    def clients_page(self, start: int, count: int) -> list[ClientStat]:
        out: list[ClientStat] = self._clients.ordered()[start : start + count]
        return out

    def totals(self) -> Totals:
        return Totals(
            send_bytes=self.kbps.send_bytes,
            recv_bytes=self.kbps.recv_bytes,
            streams=len(self._streams),
            clients=len(self._clients),
            clients_total=self._clients_total,
            errors=self._errors,
        )

    # ------------------------------------------------------------------ entries

    def _vhost_for(self, name: str) -> VhostStat:
        v = self._vhosts_by_name.get(name)
        if v is None:
            vid = stat_id()
            while self._vhosts.get(vid) is not None:
                vid = stat_id()
            v = VhostStat(name, self._samples, vid)
            self._vhosts_by_name[name] = v
            self._vhosts.put(vid, v)
        return v

    def _stream_for(self, client: Client) -> StreamStat:
        req = client.request
        url = req.stream_url
        st = self._streams_by_url.get(url)
        if st is None:
            vhost = self._vhost_for(req.vhost)
            sid = stat_id()
            while self._streams.get(sid) is not None:
                sid = stat_id()
            registry = getattr(self.ctx, "registry", None)
            st = StreamStat(vhost, req.app, req.stream, url, req.tc_url, self._samples, sid, registry)
            self._streams_by_url[url] = st
            self._streams.put(sid, st)
        return st

    def _cleanup_stream(self, st: StreamStat) -> None:
        """SRS ``cleanup_stream``: a stream without publisher and clients is forgotten."""
        if st.active or st.clients > 0:
            return
        if self._streams_by_url.get(st.url) is st:
            del self._streams_by_url[st.url]
        self._streams.pop(st.id)

    # ------------------------------------------------------------------ events (the Policy order)

    def on_client(self, client: Client) -> None:
        """A client is identified (type and stream known); called again on republish."""
        st = self._stream_for(client)
        self._clients_total += 1  # SRS counts every registration
        cs: ClientStat | None = self._clients.get(client.cid)
        if cs is None:
            cs = ClientStat(client, st, self._samples, self._clock)
            self._clients.put(client.cid, cs)
            st.clients += 1
            st.vhost.clients += 1
            return
        # Re-registration on the same connection (republish, or play then publish). SRS counts the
        # client in its stream and vhost again (the counts drift up); we move it instead.
        old = cs.stream
        cs.client = client
        if old is not st:
            old.clients -= 1
            old.vhost.clients -= 1
            st.clients += 1
            st.vhost.clients += 1
            cs.stream = st
            self._cleanup_stream(old)

    def on_disconnect(self, client: Client, error: bool) -> None:
        """The client's connection is gone: take its last bytes, forget it, count errors."""
        cs: ClientStat | None = self._clients.get(client.cid)
        if cs is None or cs.client.conn is not client.conn:
            return
        ds, dr = cs.take_delta()
        if ds or dr:
            st = cs.stream
            cs.kbps.add(ds, dr)
            st.kbps.add(ds, dr)
            st.vhost.kbps.add(ds, dr)
            self.kbps.add(ds, dr)
        self._clients.pop(client.cid)
        st = cs.stream
        st.clients -= 1
        st.vhost.clients -= 1
        if error:
            self._errors += 1
        self._cleanup_stream(st)

    def on_stream_publish(self, client: Client, source: Source) -> None:
        st = self._stream_for(client)
        if st.active:
            return  # SRS: a duplicated publish event (bridges) is ignored
        st.active = True
        st.publisher_cid = client.cid
        st.vhost.streams += 1
        st._closed()  # fresh codec info for the new publisher

    def on_stream_close(self, client: Client, source: Source) -> None:
        st = self._streams_by_url.get(client.request.stream_url)
        if st is None or not st.active:
            return
        st.active = False
        st.vhost.streams -= 1
        st._closed()

    # ------------------------------------------------------------------ sampling (every second)

    def sample(self, now: float) -> None:
        """Add each connection's bytes since the last sample to client, stream, vhost and server,
        then record the totals for the 30 s windows."""
        clock = self._samples
        slot = clock.seq % _RING
        clock.times[slot] = now
        server = self.kbps
        for cs in self._clients.values():
            ds, dr = cs.take_delta()
            k = cs.kbps
            if ds or dr:
                k.send_bytes += ds
                k.recv_bytes += dr
                sk = cs.stream.kbps
                sk.send_bytes += ds
                sk.recv_bytes += dr
                vk = cs.stream.vhost.kbps
                vk.send_bytes += ds
                vk.recv_bytes += dr
                server.send_bytes += ds
                server.recv_bytes += dr
            k.record(slot)
        for st in self._streams.values():
            st.kbps.record(slot)
            _ = st.frames  # follow the source while it lives (frames survive a source change)
        for v in self._vhosts.values():
            v.kbps.record(slot)
        server.record(slot)
        clock.seq += 1
