"""Outputs that write segment files (HLS, DASH): for each published stream of a vhost that has the
output on, a consumer of the Source feeds a sans-IO segmenter (``srs.remux.hls``,
``srs.remux.dash``); its file actions run on one worker thread per output, in order, off the event
loop (a slow or full disk never blocks the publisher or the players).

Files are written atomically (a temporary name in the same directory, then ``os.replace``), so a
player or a web server serving the directory never reads a half-written segment or playlist. A
segmenter outlives its publisher: a republish goes on from where it was (HLS: the sequence numbers
after an ``EXT-X-DISCONTINUITY``). A reload (:meth:`FileOutputs.reload`) starts, stops or
re-configures the output of the streams being published, their players untouched. A write error
gives one error line per stream until a write succeeds again; ``on_error`` (HLS's
``hls_on_error``) decides: continue (the default) or disconnect the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from srs.config import VhostConfig
from srs.media.consumer import Consumer
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.media.source import Source
from srs.output.carry import carry_over, owned
from srs.output.feed import FeedSink, FeedWire
from srs.protocol.request import Request
from srs.remux.hls import Action, SegmentClosed, WriteFile
from srs.remux.llhls import LiveUpdate

# (publisher's client id, request, segment facts): the app calls the on_hls hooks with it.
OnSegment = Callable[[str, Request, SegmentClosed], None]


class Segmenter(Protocol):
    cfg: Any  # its config block: ``dispose_s`` and, optionally, ``on_error``

    def on_message(self, msg: MediaMessage, now_ms: int) -> list[Action]: ...

    def on_unpublish(self, now_ms: int) -> list[Action]: ...

    def dispose(self) -> list[Action]: ...

    def retire(self, new: object) -> list[Action]: ...


log = logging.getLogger("srs")


def perform(action: Action) -> None:
    """Run one file action (on the worker thread)."""
    if isinstance(action, SegmentClosed | LiveUpdate):
        return
    if isinstance(action, WriteFile):
        d = os.path.dirname(action.path)
        if d:
            os.makedirs(d, exist_ok=True)
        tmp = f"{action.path}.tmp"
        with open(tmp, "wb") as f:
            f.write(action.data)
        os.replace(tmp, action.path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(action.path)


class FileSink(FeedSink):
    """The Source's consumer for one stream's output (a :class:`~srs.media.consumer.Sink`)."""

    def __init__(
        self, hls: FileOutputs, url: str, segmenter: Segmenter, cid: str, req: Request, source: Source
    ) -> None:
        self.hls = hls
        self.url = url
        self.cid = cid
        self.req = req
        self.source = source
        self.failing = False  # a file action failed and nothing succeeded since (worker thread only)
        self.segmenter = segmenter
        self.next: Segmenter | None = None  # a reload's segmenter, taking over at the next keyframe
        self.wire = FeedWire(self.on_message, ("file", id(self)))

    def on_message(self, msg: MediaMessage) -> None:
        # A reload's segmenter takes over at a keyframe (audio-only: at the next frame).
        if (
            self.next is not None
            and not msg.sequence_header
            and ((msg.kind == VIDEO and msg.keyframe) or (msg.kind == AUDIO and self.source.video_sh is None))
        ):
            self.switch(msg.timestamp)
        self.hls.submit(self.segmenter.on_message(msg, int(time.time() * 1000)), self)

    def switch(self, timestamp: int | None) -> None:
        """The reload's segmenter takes over: the old one ends its current segment (written with
        its playlist, as on unpublish), the new one starts with the stream's sequence headers."""
        new, self.next = self.next, None
        assert new is not None
        now = int(time.time() * 1000)
        old, self.segmenter = self.segmenter, new
        self.hls.submit(old.on_unpublish(now), self)
        self.hls.replaced(self, old, new)
        if timestamp is not None:
            for sh in (self.source.audio_sh, self.source.video_sh):
                if sh is not None:
                    self.hls.submit(new.on_message(sh.with_timestamp(timestamp), now), self)
        log.info("%s: %s reloaded -> %s", self.hls.name, self.url, self.hls.describe(new))

    def on_unpublish(self) -> None:
        if self.next is not None:
            self.switch(None)
        self.hls.submit(self.segmenter.on_unpublish(int(time.time() * 1000)), self)
        self.hls.stopped(self.url)
        self.hls.dispose_later(self)


class FileOutputs(ABC):
    """Every stream's output of one kind; the app registers :meth:`on_publish` with the context.
    A subclass names the output and says which config block turns it on and how to segment."""

    name = "files"
    on_error_directive = "on_error"  # how the error line names the policy

    def __init__(
        self, on_segment: OnSegment | None = None, live: Callable[[LiveUpdate], None] | None = None
    ) -> None:
        self.on_segment = on_segment
        self.live = live  # LL-HLS: updates go to the in-memory store, on the event loop
        self._segmenters: dict[str, Segmenter] = {}
        self._consumers: dict[str, Consumer] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"srs-{self.name.lower()}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._disposals: dict[str, asyncio.TimerHandle] = {}
        self._retired: dict[int, asyncio.TimerHandle] = {}  # replaced segmenters' disposals

    @abstractmethod
    def config(self, vhost: VhostConfig) -> Any:
        """The vhost's config block of this output, or None when it is off."""

    @abstractmethod
    def make(self, cfg: Any, vhost: VhostConfig, req: Request) -> Segmenter:
        """A segmenter for one stream with ``cfg``."""

    def describe(self, seg: Segmenter) -> str:
        return ""

    def on_publish(self, source: Source, vhost: VhostConfig, req: Request) -> None:
        cfg = self.config(vhost)
        if cfg is None:
            return
        url = source.url
        self._loop = asyncio.get_running_loop()
        pending = self._disposals.pop(url, None)
        if pending is not None:
            pending.cancel()  # republished in time: the files stay and the sequence goes on
        old = seg = self._segmenters.get(url)
        if seg is None or seg.cfg != cfg:
            seg = self._segmenters[url] = self.make(cfg, vhost, req)
        self.stopped(url)
        cid = str(getattr(source.publisher, "cid", ""))
        sink = FileSink(self, url, seg, cid, req, source)
        if old is not None and old is not seg:
            self.replaced(sink, old, seg)  # the config changed while unpublished: go on from old
        self._consumers[url] = source.create_consumer(sink)
        log.info("%s: %s -> %s", self.name, url, self.describe(seg))

    def reload(self, vhost: VhostConfig, sources: Iterable[Source]) -> None:
        """The vhost's config block changed: the streams being published start their output now
        (from the GOP cache's keyframe, as a new player), stop it (the current segment and the
        playlist are written, then disposed of as after an unpublish), or, for another config,
        switch to a new segmenter at the next keyframe (SRS's ``SrsHls::do_reload`` /
        ``on_reload_vhost_dash``: unpublish and publish again), the numbering going on (see
        ``srs.output.carry``). SRS's HLS reload only re-configures a stream that has HLS on; here
        turning it on works too. The stream's players are not touched."""
        cfg = self.config(vhost)
        for source in sources:
            req = getattr(source.publisher, "request", None)
            if not isinstance(req, Request):
                continue
            consumer = self._consumers.get(source.url)
            sink = consumer.sink if consumer is not None else None
            if not isinstance(sink, FileSink):
                if cfg is not None:
                    self.on_publish(source, vhost, req)
                continue
            if cfg is None:
                log.info("%s: %s stops (reload)", self.name, source.url)
                sink.on_unpublish()
            elif sink.segmenter.cfg == cfg:
                sink.next = None  # back to the running config before the switch happened
            elif sink.next is None or sink.next.cfg != cfg:
                sink.next = self.make(cfg, vhost, req)
                log.info("%s: %s reloads at the next keyframe", self.name, source.url)

    def replaced(self, sink: FileSink, old: Segmenter, new: Segmenter) -> None:
        """``new`` follows ``old`` (which ended its segment) for ``sink``'s stream."""
        if self._segmenters.get(sink.url) is old:
            self._segmenters[sink.url] = new
        continued, moved = carry_over(old, new)
        self.submit(old.retire(new), sink)
        if not continued:
            log.warning("%s: %s starts its numbering again at 0", self.name, sink.url)
        if moved:
            return
        seconds = old.cfg.dispose_s
        if seconds > 0 and self._loop is not None:
            keep = owned(new)
            handle = self._loop.call_later(seconds, self._dispose_retired, sink, old, keep)
            self._retired[id(old)] = handle

    def _dispose_retired(self, sink: FileSink, old: Segmenter, keep: frozenset[str]) -> None:
        self._retired.pop(id(old), None)
        actions = [a for a in old.dispose() if getattr(a, "path", None) not in keep]
        log.info("%s: %s disposed of the files before its reload", self.name, sink.url)
        self.submit(actions, sink)

    def dispose_later(self, sink: FileSink) -> None:
        """``hls_dispose`` / ``dash_dispose``: once the stream has had no publisher for that long, its playlist and
        segments are removed and its sequence starts again at 0 (0 = never, as SRS)."""
        seconds = sink.segmenter.cfg.dispose_s
        if seconds <= 0 or self._loop is None:
            return
        old = self._disposals.pop(sink.url, None)
        if old is not None:
            old.cancel()
        self._disposals[sink.url] = self._loop.call_later(seconds, self._dispose, sink)

    def _dispose(self, sink: FileSink) -> None:
        self._disposals.pop(sink.url, None)
        if self._segmenters.get(sink.url) is sink.segmenter:
            del self._segmenters[sink.url]
        log.info(
            "%s: %s disposed after %d s without a publisher",
            self.name,
            sink.url,
            sink.segmenter.cfg.dispose_s,
        )
        self.submit(sink.segmenter.dispose(), sink)

    def stopped(self, url: str) -> None:
        c = self._consumers.pop(url, None)
        if c is not None:
            c.close()

    def submit(self, actions: list[Action], sink: FileSink) -> None:
        for a in actions:
            if isinstance(a, LiveUpdate):
                if self.live is not None:
                    self.live(a)
                continue
            written = self._pool.submit(self._safely, a, sink)
            if isinstance(a, SegmentClosed) and self.on_segment is not None:
                # Once the files are written (the worker runs in order), back on the event loop.
                done = asyncio.wrap_future(written)
                done.add_done_callback(functools.partial(self._segment, sink, a))

    def _segment(self, sink: FileSink, event: SegmentClosed, _done: object = None) -> None:
        assert self.on_segment is not None
        try:
            self.on_segment(sink.cid, sink.req, event)
        except Exception:
            log.exception("%s: the segment hook for %s failed", self.name, sink.url)

    def _safely(self, action: Action, sink: FileSink) -> None:
        """On the worker: one error line per stream until a write succeeds again; then
        ``hls_on_error`` decides (continue, SRS's default, and ignore: the stream goes on;
        disconnect: the publisher is closed)."""
        if isinstance(action, SegmentClosed | LiveUpdate):
            return
        try:
            perform(action)
        except OSError as e:
            if sink.failing:
                return
            sink.failing = True
            what = "write" if isinstance(action, WriteFile) else "remove"
            policy = getattr(sink.segmenter.cfg, "on_error", "continue")
            log.error(
                "%s: %s cannot %s %s: %s (%s %s)",
                self.name,
                sink.url,
                what,
                action.path,
                e,
                self.on_error_directive,
                policy,
            )
            if policy == "disconnect" and self._loop is not None:
                self._loop.call_soon_threadsafe(self._disconnect, sink)
            return
        if sink.failing and isinstance(action, WriteFile):
            sink.failing = False
            log.info("%s: %s writes again (%s)", self.name, sink.url, action.path)

    @staticmethod
    def _disconnect(sink: FileSink) -> None:
        publisher = sink.source.publisher
        close = getattr(publisher, "close", None)
        if callable(close):
            close("hls error (hls_on_error disconnect)")

    def pending(self) -> asyncio.Future[None]:
        """Done once the file actions submitted so far have run (tests)."""
        return asyncio.wrap_future(self._pool.submit(lambda: None))

    def close(self) -> None:
        """Finish the pending file actions (shutdown)."""
        for url in list(self._consumers):
            self.stopped(url)
        for handle in (*self._disposals.values(), *self._retired.values()):
            handle.cancel()
        self._disposals.clear()
        self._retired.clear()
        self._pool.shutdown(wait=True)
