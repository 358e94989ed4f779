"""Outputs that write segment files (HLS, DASH): for each published stream of a vhost that has the
output on, a consumer of the Source feeds a sans-IO segmenter (``srs.remux.hls``,
``srs.remux.dash``); its file actions run on one worker thread per output, in order, off the event
loop (a slow or full disk never blocks the publisher or the players).

Files are written atomically (a temporary name in the same directory, then ``os.replace``), so a
player or a web server serving the directory never reads a half-written segment or playlist. A
segmenter outlives its publisher: a republish goes on from where it was (HLS: the sequence numbers
after an ``EXT-X-DISCONTINUITY``). A write error gives one error line per stream until a write
succeeds again; ``on_error`` (HLS's ``hls_on_error``) decides: continue (the default) or
disconnect the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from srs.config import VhostConfig
from srs.media.consumer import Consumer
from srs.media.message import MediaMessage
from srs.media.source import Source
from srs.protocol.request import Request
from srs.remux.hls import Action, SegmentClosed, WriteFile

# (publisher's client id, request, segment facts): the app calls the on_hls hooks with it.
OnSegment = Callable[[str, Request, SegmentClosed], None]


class Segmenter(Protocol):
    cfg: Any  # its config block: ``dispose_s`` and, optionally, ``on_error``

    def on_message(self, msg: MediaMessage, now_ms: int) -> list[Action]: ...

    def on_unpublish(self, now_ms: int) -> list[Action]: ...

    def dispose(self) -> list[Action]: ...


log = logging.getLogger("srs")


def perform(action: Action) -> None:
    """Run one file action (on the worker thread)."""
    if isinstance(action, SegmentClosed):
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


class _FileWire:
    """A wire whose ``encode`` hands each message, once and in order, to the segmenter."""

    __slots__ = ("key", "sink")
    preamble = b""

    def __init__(self, sink: FileSink) -> None:
        self.sink = sink
        self.key: Hashable = ("file", id(sink))

    def encode(self, msg: MediaMessage) -> bytes:
        self.sink.on_message(msg)
        return b""


class FileSink:
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
        self.wire = _FileWire(self)

    def choose_wire(self, first: Sequence[MediaMessage]) -> _FileWire:
        return self.wire

    def on_message(self, msg: MediaMessage) -> None:
        self.hls.submit(self.segmenter.on_message(msg, int(time.time() * 1000)), self)

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def on_unpublish(self) -> None:
        self.hls.submit(self.segmenter.on_unpublish(int(time.time() * 1000)), self)
        self.hls.stopped(self.url)
        self.hls.dispose_later(self)

    def on_limit_reached(self) -> None:
        """Never limited."""


class FileOutputs:
    """Every stream's output of one kind; the app registers :meth:`on_publish` with the context.
    A subclass names the output and says which config block turns it on and how to segment."""

    name = "files"
    on_error_directive = "on_error"  # how the error line names the policy

    def __init__(self, on_segment: OnSegment | None = None) -> None:
        self.on_segment = on_segment
        self._segmenters: dict[str, Segmenter] = {}
        self._consumers: dict[str, Consumer] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"srs-{self.name.lower()}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._disposals: dict[str, asyncio.TimerHandle] = {}

    def config(self, vhost: VhostConfig) -> Any:
        """The vhost's config block of this output, or None when it is off."""
        raise NotImplementedError

    def make(self, cfg: Any, vhost: VhostConfig, req: Request) -> Segmenter:
        raise NotImplementedError

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
        seg = self._segmenters.get(url)
        if seg is None or seg.cfg != cfg:
            seg = self._segmenters[url] = self.make(cfg, vhost, req)
        self.stopped(url)
        cid = str(getattr(source.publisher, "cid", ""))
        self._consumers[url] = source.create_consumer(FileSink(self, url, seg, cid, req, source))
        log.info("%s: %s -> %s", self.name, url, self.describe(seg))

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
        if isinstance(action, SegmentClosed):
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

    def close(self) -> None:
        """Finish the pending file actions (shutdown)."""
        for url in list(self._consumers):
            self.stopped(url)
        for handle in self._disposals.values():
            handle.cancel()
        self._disposals.clear()
        self._pool.shutdown(wait=True)
