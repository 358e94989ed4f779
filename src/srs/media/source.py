"""The live source (SRS ``SrsLiveSource``): one per stream URL, one publisher, many consumers.

Media path, and why it is fast:

* The publisher's messages are corrected for jitter once and appended to one ring (a list with a
  moving base sequence number). Appending costs O(1) whatever the number of players.
* Each wire format (RTMP chunks for a chunk size, FLV tags with given A/V flags, ...) has a list
  of encoded bytes parallel to the ring, filled lazily: a message is serialized at most once per
  format, and the bytes are shared by every player of that format.
* Players are flushed in batches. SRS's merged-write rule (``mw_latency`` of media and more than
  ``mw_msgs`` messages; every read in realtime mode) is the upper bound: a flush never waits
  longer than that. Below it, a *pacer* (injected, see :class:`Pace`) flushes as soon as the
  fan-out's CPU budget allows, so an idle server delivers at once and a loaded one batches more.
  A flush hands each player a slice of the shared byte list, written with one ``writelines``;
  players at the same position share the slice itself: the per-player cost is O(1) Python work
  per flush, not per message.
* The GOP cache is not a copy either: it is the sequence number where the current GOP starts; the
  ring keeps everything from there on (SRS ``SrsGopCache`` rules: pure-audio guard, max frames).
* Slow players are not buffered per player: they lag in the ring. A player lagging more than
  ``queue_length`` of media jumps to the latest keyframe (whole GOPs dropped and counted).

The core is sans-IO: flushes are scheduled through an injected ``schedule`` callable (the app
passes the pacer's ``soon``, a timed ``loop.call_soon``) and the optional ``pace`` callable, and
wall-clock work comes in through :meth:`tick`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from srs.media.consumer import Consumer, NotYet, Sink
from srs.media.jitter import Jitter, JitterAlgorithm
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage, WireFormat
from srs.util.errors import ErrorCode, StreamBusyError

PURE_AUDIO_GUESS_COUNT = 115  # SRS SRS_PURE_AUDIO_GUESS_COUNT
MW_MSGS_MAX = 128  # SRS caps mw_msgs; also our flush fallback when timestamps do not advance
TRIM_BATCH = 64  # trim the ring's unused prefix in batches (amortised list deletion)
FLUSH_SLICE = 256  # consumers served per loop turn in a flush pass
GOP_VIDEO_CODECS = frozenset({7, 12, 13})  # AVC, HEVC, AV1: what the GOP cache accepts as video


class Pace(Protocol):
    """Paced flushing (implemented by the server layer, which owns the clock).

    ``pace(source, due)`` asks for ``source.paced_flush()`` to be called when the fan-out budget
    allows: at once when the server is idle, later (batching more) when it is loaded. ``due``
    says SRS's merged-write rule is met (``mw_latency`` of media waits, or realtime mode): the
    flush must then come within the pacer's short grace whatever the budget. A source asks at
    most once without and once with ``due`` between two flushes.
    """

    def __call__(self, source: Source, due: bool, /) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Per-vhost play settings a source needs (from ``vhost.play`` and ``min_latency``)."""

    gop_cache: bool = True
    gop_cache_max_frames: int = 2500
    queue_length_ms: int = 30_000
    time_jitter: JitterAlgorithm = JitterAlgorithm.FULL
    atc: bool = False
    atc_auto: bool = False
    mw_latency_ms: int = 350
    mw_msgs: int = 8
    reduce_sequence_header: bool = False


class Source:
    """One live stream: publisher in, consumers out."""

    def __init__(
        self,
        url: str,
        settings: SourceSettings,
        schedule: Callable[[Callable[[], None]], object],
        on_idle: Callable[[Source], None] | None = None,
        pace: Pace | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self._schedule = schedule
        self._on_idle = on_idle
        self._pace = pace  # None: SRS's merged write only (flush when mw_latency/mw_msgs are met)
        # the ring
        self.ring: list[MediaMessage] = []
        self.base = 0  # sequence number of ring[0]
        # Position of each ring message on the A/V timeline (metadata is stamped 0 on the wire but
        # sits at the current A/V time): queue lengths and play durations are measured on it.
        self._times: list[int] = []
        self._wires: dict[Hashable, list[bytes]] = {}
        self._wire_objs: dict[Hashable, WireFormat] = {}  # the one object per key (see _deliver)
        self._wire_users: dict[Hashable, int] = {}
        self._keyframes: list[int] = []  # sequence numbers of video keyframes in the ring
        # GOP cache (SRS SrsGopCache), as a position in the ring
        self._gop_start: int | None = None
        self._gop_videos = 0
        self._audio_after_video = 0
        # meta cache (SRS SrsMetaCache)
        self.metadata: MediaMessage | None = None
        self.video_sh: MediaMessage | None = None
        self.audio_sh: MediaMessage | None = None
        # players and publisher
        self.consumers: list[Consumer] = []
        self.publisher: object | None = None
        self._jitter = Jitter()
        self._atc = settings.atc
        self._last_ts = 0  # last A/V timestamp on the corrected timeline
        # merged-write state
        self._pending = 0
        self._pending_start_ts = 0
        self._flush_scheduled = False
        self._pace_requested = False  # the pacer will call paced_flush
        self._pace_due = False  # ... within its grace: SRS's merged-write rule is met
        # Consumers whose sink says ``realtime`` (WebRTC players: SRS forces realtime for RTC
        # consumers); while there is one, every message is due at once, whatever mw_latency says.
        self._realtime = 0
        self._backlog = False  # a consumer could not take its data at the last flush
        self._pending_since_ms: int | None = None  # wall clock (from tick) when data started waiting
        self._pass: list[Consumer] | None = None  # the consumers of the flush pass under way
        self._pass_pos = 0
        self._pass_again = False
        self._passes = 0
        self.last_audio: MediaMessage | None = None  # newest audio frame (codec info without headers)
        # counters (read by stats)
        self.msgs_in = 0
        self.bytes_in = 0
        self.video_frames = 0
        self.audio_frames = 0
        self.dropped_msgs = 0
        self.publish_count = 0

    # ------------------------------------------------------------------ state

    @property
    def head(self) -> int:
        """Sequence number the next message will get."""
        return self.base + len(self.ring)

    @property
    def publishing(self) -> bool:
        return self.publisher is not None

    @property
    def idle(self) -> bool:
        return self.publisher is None and not self.consumers

    @property
    def atc(self) -> bool:
        return self._atc

    @property
    def gop_cache_size(self) -> int:
        """Messages in the GOP cache (what a newcomer gets after the sequence headers)."""
        return 0 if self._gop_start is None else self.head - self._gop_start

    def update_settings(self, settings: SourceSettings) -> None:
        """Apply reloaded vhost settings; effective from the next message."""
        old = self.settings
        self.settings = settings
        if settings.atc != old.atc:
            self._atc = settings.atc
        if not settings.gop_cache:
            self._clear_gop()
        if settings.time_jitter is not old.time_jitter:
            self._jitter.reset()

    # ------------------------------------------------------------------ publisher side

    def publish(self, publisher: object) -> None:
        """Attach the publisher; a second one gets :class:`StreamBusyError` (SRS 1028)."""
        if self.publisher is not None:
            raise StreamBusyError(f"stream {self.url} is busy", ErrorCode.SYSTEM_STREAM_BUSY)
        self.publisher = publisher
        self.publish_count += 1
        self._atc = self.settings.atc
        if self.publish_count > 1:
            self._jitter.on_republish(self._algorithm())

    def unpublish(self, publisher: object) -> None:
        """Detach the publisher: deliver what is pending, clear caches, tell the players."""
        if self.publisher is not publisher:
            return
        self.flush(complete=True)
        self.publisher = None
        self._clear_gop()
        self.metadata = self.video_sh = self.audio_sh = self.last_audio = None
        for c in list(self.consumers):
            c.sink.on_unpublish()
        self._trim()
        self._check_idle()

    def _algorithm(self) -> JitterAlgorithm:
        return JitterAlgorithm.OFF if self._atc else self.settings.time_jitter

    def on_message(self, msg: MediaMessage) -> None:
        """An audio or video message from the publisher (already classified by the remuxer)."""
        if not msg.payload:
            return  # SRS compat: empty A/V messages are ignored, never sent as empty packets
        msg = self._jitter.correct(msg, self._algorithm())
        self.msgs_in += 1
        self.bytes_in += len(msg.payload)
        if msg.sequence_header:
            if msg.kind == VIDEO:
                if (
                    self.settings.reduce_sequence_header
                    and self.video_sh is not None
                    and self.video_sh.payload == msg.payload
                ):
                    return
                self.video_sh = msg
            else:
                if (
                    self.settings.reduce_sequence_header
                    and self.audio_sh is not None
                    and self.audio_sh.payload == msg.payload
                ):
                    return
                self.audio_sh = msg
        else:
            if msg.kind == VIDEO:
                self.video_frames += 1
            else:
                self.audio_frames += 1
                self.last_audio = msg
        self._last_ts = msg.timestamp
        seq = self.head
        self.ring.append(msg)
        self._times.append(msg.timestamp)
        if not msg.sequence_header:
            if msg.keyframe and msg.kind == VIDEO:
                self._keyframes.append(seq)
            if self.settings.gop_cache:
                self._cache_gop(msg, seq)
        self._after_append(msg.timestamp)

    def on_metadata(self, msg: MediaMessage, *, bravo_atc: bool = False) -> None:
        """An ``onMetaData`` message (payload already rewritten by the remuxer, SRS style)."""
        if not msg.payload:
            return
        if bravo_atc and self.settings.atc_auto:
            self._atc = True
        if (
            self.settings.reduce_sequence_header
            and self.metadata is not None
            and self.metadata.payload == msg.payload
        ):
            return
        # SRS compat: metadata goes out stamped 0. FFmpeg's FLV demuxer takes an onMetaData with any
        # other timestamp for a data stream (players then show a phantom "Subtitle: text" stream).
        msg = msg.with_timestamp(0)
        self.metadata = msg
        self.msgs_in += 1
        self.bytes_in += len(msg.payload)
        self.ring.append(msg)
        self._times.append(self._last_ts)
        self._after_append(msg.timestamp)

    def _after_append(self, ts: int) -> None:
        if self._pending == 0:
            self._pending_start_ts = ts
        self._pending += 1
        if not self.consumers:
            self._pending = 0
            self._trim()
            return
        if self._flush_scheduled or self._pace_due:
            return
        s = self.settings
        due = self._realtime > 0 or (
            self._pending > s.mw_msgs and ts - self._pending_start_ts >= s.mw_latency_ms
        )
        if self._pending >= MW_MSGS_MAX or (due and self._pace is None):
            # A burst (or no pacer): flush after this read.
            self._flush_scheduled = True
            self._schedule(self.flush)
        elif self._pace is None:
            return  # SRS's merged write only: wait for the rule (or tick)
        elif due:
            # SRS's merged-write rule is met (always, in realtime mode): the pacer flushes within
            # its short grace, sooner if the budget allows.
            self._pace_requested = self._pace_due = True
            self._pace(self, True)
        elif not self._pace_requested:
            self._pace_requested = True
            self._pace(self, False)

    def paced_flush(self) -> None:
        """The pacer's turn: flush if data is still waiting (an earlier flush may have sent it)."""
        if self._pace_requested:
            self.flush()

    def _cache_gop(self, msg: MediaMessage, seq: int) -> None:
        """SRS ``SrsGopCache::cache`` on a ring position."""
        if msg.kind == VIDEO:
            if msg.codec not in GOP_VIDEO_CODECS:
                return
            self._gop_videos += 1
            self._audio_after_video = 0
        if self._gop_videos == 0:
            return  # pure audio: nothing to cache
        if msg.kind == AUDIO:
            self._audio_after_video += 1
        if self._audio_after_video > PURE_AUDIO_GUESS_COUNT:
            self._clear_gop()  # SRS compat: guess the stream became pure audio
            return
        if msg.kind == VIDEO and msg.keyframe:
            self._gop_start = seq
            self._gop_videos = 1
        elif self._gop_start is None:
            self._gop_start = seq
        limit = self.settings.gop_cache_max_frames
        if limit > 0 and seq - self._gop_start + 1 > limit:
            self._clear_gop()

    def _clear_gop(self) -> None:
        self._gop_start = None
        self._gop_videos = 0
        self._audio_after_video = 0

    # ------------------------------------------------------------------ consumer side

    def create_consumer(self, sink: Sink) -> Consumer:
        """Attach a player; it gets metadata, sequence headers and the GOP cache first."""
        head = self.head
        prefix: list[MediaMessage] = []
        cursor = head
        if self.publisher is not None:
            if self.settings.gop_cache and self._gop_start is not None:
                cursor = self._gop_start
            start_ts = self._times[cursor - self.base] if cursor < head else self._last_ts
            # SRS SrsMetaCache::dumps order: metadata, audio sh (unless MP3), video sh; stamped with
            # the start of what follows so the newcomer's timeline does not jump.
            if self.metadata is not None:
                prefix.append(self.metadata)
            if self.audio_sh is not None:
                prefix.append(self.audio_sh.with_timestamp(start_ts))
            if self.video_sh is not None:
                prefix.append(self.video_sh.with_timestamp(start_ts))
        c = Consumer(self, sink, cursor, prefix)
        self.consumers.append(c)
        if getattr(sink, "realtime", False):
            self._realtime += 1
        self.request_flush(c)
        return c

    def remove_consumer(self, c: Consumer) -> None:
        try:
            self.consumers.remove(c)
        except ValueError:
            return
        c.closed = True
        c.fast = False
        if getattr(c.sink, "realtime", False):
            self._realtime -= 1
        if c.wire is not None:
            self._release_wire(c.wire.key)
        self._trim()
        self._check_idle()

    def request_flush(self, c: Consumer) -> None:
        """Deliver to one consumer soon (a newcomer's GOP cache, an unpaused player)."""
        self._schedule(lambda: self._flush_one(c))

    def _flush_one(self, c: Consumer) -> None:
        if not c.closed:
            self._flush_consumer(c, self.head)

    # ------------------------------------------------------------------ fan-out

    def flush(self, *, complete: bool = False) -> None:
        """Deliver everything pending to every consumer (the merged write).

        The consumers are served ``FLUSH_SLICE`` at a time, one slice per loop turn, so that 2000
        players never hold the event loop for tens of milliseconds (API requests, publishers and
        new players get their turn in between). ``complete`` serves all of them at once (unpublish:
        the tail must reach every player before it is told the stream ended).
        """
        self._flush_scheduled = False
        self._pace_requested = self._pace_due = False
        self._pending = 0
        self._pending_since_ms = None
        self._backlog = False
        if self._pass is not None and not complete:
            self._pass_again = True  # a pass is under way: run another one right after it
            return
        # Each pass starts at another player (a multiplicative hash of the pass number): a pass
        # over 2000 players takes tens of ms, and no player should always be the last one.
        players = self.consumers
        k = (self._passes * 2654435761) % len(players) if players else 0
        self._passes += 1
        self._pass = players[k:] + players[:k]
        self._pass_pos = 0
        self._pass_again = False
        self._flush_slice(complete)

    def _flush_slice(self, complete: bool = False) -> None:
        todo = self._pass
        if todo is None:
            return
        start = self._pass_pos
        end = len(todo) if complete else min(len(todo), start + FLUSH_SLICE)
        head = self.head
        # Players at the same position and wire share one batch (the list and its size): the
        # common case (everyone caught up) costs a dict lookup and one write per player.
        batches: dict[tuple[Hashable, int], tuple[list[bytes], int]] = {}
        for i in range(start, end):
            c = todo[i]
            if not c.fast:  # first write, backed up, paused, waiting for a keyframe, a duration
                if not c.closed:
                    self._flush_consumer(c, head)
                continue
            cur = c.cursor
            if cur >= head:
                continue
            wire = c.wire
            assert wire is not None
            key = (wire.key, cur)
            batch = batches.get(key)
            if batch is None:
                base = self.base
                bufs = self._wire_list(wire)[cur - base : head - base]
                batch = batches[key] = (bufs, sum(map(len, bufs)))
            c.sent_msgs += head - cur
            c.cursor = head
            if not c.sink.write(*batch):
                c.fast = False  # backed up: the general path asks writable() until it drains
        if end < len(todo):
            self._pass_pos = end
            self._schedule(self._flush_slice)
            return
        self._pass = None
        self._trim()
        if self._pass_again:
            self.flush()

    def tick(self, now_ms: int) -> None:
        """Wall-clock housekeeping: retry backed-up players; flush data that waited ``mw_latency``
        of wall time (a publisher whose timestamps do not advance never fills a merged write)."""
        if self._backlog:
            self.flush()
        elif self._pending:
            if self._pending_since_ms is None:
                self._pending_since_ms = now_ms
            elif now_ms - self._pending_since_ms >= self.settings.mw_latency_ms:
                self.flush()

    def _wire_list(self, wire: WireFormat) -> list[bytes]:
        key = wire.key
        wl = self._wires.get(key)
        if wl is None:
            wl = self._wires[key] = []
        n = len(self.ring)
        if len(wl) < n:
            enc = wire.encode
            wl.extend([enc(m) for m in self.ring[len(wl) : n]])
        return wl

    def _release_wire(self, key: Hashable) -> None:
        users = self._wire_users.get(key, 0) - 1
        if users <= 0:
            self._wire_users.pop(key, None)
            self._wires.pop(key, None)
            self._wire_objs.pop(key, None)
        else:
            self._wire_users[key] = users

    def _flush_consumer(self, c: Consumer, head: int) -> None:
        """The general path (the fast one in :meth:`_flush_slice` is for plain, writable players)."""
        c.fast = self._deliver(c, head) and c.is_plain

    def _deliver(self, c: Consumer, head: int) -> bool:
        """Deliver what ``c`` may get; False when its sink cannot take more (or did not start)."""
        cur = c.cursor
        base = self.base
        ring = self.ring
        times = self._times
        if c.paused or not c.sink.writable():
            # Only a player that cannot take its data is "too slow": it waits in the ring, and once
            # its queue spans more than queue_length of media it jumps to the latest keyframe.
            if cur < head and times[head - 1 - base] - times[cur - base] > self.settings.queue_length_ms:
                self._drop(c, head)
            if not c.paused and (c.cursor < head or c.prefix):
                self._backlog = True
            return False
        if c.wait_keyframe:
            i = bisect.bisect_left(self._keyframes, cur)
            if i < len(self._keyframes):
                c.dropped_msgs += self._keyframes[i] - cur
                cur = c.cursor = self._keyframes[i]
                c.wait_keyframe = False
            else:
                c.dropped_msgs += head - cur
                c.cursor = head
                return False
        limited = False
        if c.limit_ms is not None:
            head, limited = self._limit_head(c, cur, head)
        wire = c.wire
        if wire is None:
            first = (c.prefix or []) + ring[cur - base : head - base]
            if not first:
                return False
            chosen = c.sink.choose_wire(first)
            if isinstance(chosen, NotYet):
                return False  # the messages stay queued; asked again at the next flush
            wire = chosen
            if wire is None:
                c.cursor = head  # SRS compat: nothing is sent until there is audio or video
                c.prefix = None
                return False
            # One wire object per key: a stateful one (TS continuity counters) sees each message once.
            wire = self._wire_objs.setdefault(wire.key, wire)
            c.wire = wire
            self._wire_users[wire.key] = self._wire_users.get(wire.key, 0) + 1
            bufs = [wire.preamble] if wire.preamble else []
            if c.prefix:
                bufs.extend([wire.encode(m) for m in c.prefix])
                c.sent_msgs += len(c.prefix)
                c.prefix = None
            if cur < head:
                bufs.extend(self._wire_list(wire)[cur - base : head - base])
            if c.start_ts is None and first:
                c.start_ts = first[0].timestamp
        else:
            if cur >= head:
                if limited:
                    c.sink.on_limit_reached()
                return True
            bufs = self._wire_list(wire)[cur - base : head - base]
        c.sent_msgs += head - cur
        c.cursor = head
        ok = c.sink.write(bufs, sum(map(len, bufs)))
        if limited:
            c.sink.on_limit_reached()
        return ok

    def _limit_head(self, c: Consumer, cur: int, head: int) -> tuple[int, bool]:
        """Where a consumer with a play duration must stop, and whether it got there."""
        assert c.limit_ms is not None
        base = self.base
        start = c.start_ts
        if start is None:
            if cur >= head:
                return head, False
            start = c.start_ts = self._times[cur - base]
        end = start + c.limit_ms
        for seq in range(cur, head):  # linear, but only for the rare players with a duration
            m = self.ring[seq - base]
            if m.kind != DATA and m.timestamp >= end:
                return seq, True
        return head, False

    def _drop(self, c: Consumer, head: int) -> int:
        """The player is more than ``queue_length`` behind: jump to the latest keyframe."""
        cur = c.cursor
        kf = self._keyframes
        if kf and kf[-1] > cur:
            new = kf[-1]
        else:
            new = head
            c.wait_keyframe = bool(kf)  # a video stream: resume at the next keyframe
        dropped = new - cur
        c.fast = False
        c.dropped_msgs += dropped
        c.drops += 1
        self.dropped_msgs += dropped
        c.cursor = new
        return new

    def _trim(self) -> None:
        """Forget ring messages no consumer and no GOP cache needs any more."""
        lo = self.head
        for c in self.consumers:
            if c.cursor < lo:
                lo = c.cursor
        if self._gop_start is not None and self._gop_start < lo:
            lo = self._gop_start
        k = lo - self.base
        if k <= 0 or (k < TRIM_BATCH and k < len(self.ring)):
            return
        del self.ring[:k]
        del self._times[:k]
        for wl in self._wires.values():
            del wl[:k]
        self.base += k
        kf = self._keyframes
        i = bisect.bisect_left(kf, self.base)
        if i:
            del kf[:i]

    def _check_idle(self) -> None:
        if self.idle and self._on_idle is not None:
            self._on_idle(self)

    def __repr__(self) -> str:
        return (
            f"Source({self.url!r}, publishing={self.publishing}, consumers={len(self.consumers)}, "
            f"ring={len(self.ring)}, gop={self.gop_cache_size})"
        )
