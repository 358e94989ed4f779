"""The DVR output: for each published stream of a vhost with ``dvr { enabled on; }`` that
``dvr_apply`` selects, a consumer of the Source feeds a :class:`~srs.remux.dvr.DvrPlan`; its file
actions run on one worker thread, in order, off the event loop (a slow or full disk never blocks
the publisher or the players).

A recording is written to ``<path>.tmp`` and renamed to ``<path>`` when it is closed (SRS's
``SrsFragment``); then the ``on_dvr`` hook fires. Data reaches the ``.tmp`` file about once a
second, so after a crash the ``.tmp`` file holds everything but about the last second and plays
as it stands (FLV, and fragmented MP4). A file that cannot be created or written gives one error
line per stream (until a write works again) and the stream goes on for its players; SRS fails
the publish instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from srs.config import VhostConfig
from srs.media.consumer import Consumer
from srs.media.message import MediaMessage
from srs.media.source import Source
from srs.output.feed import FeedSink, FeedWire
from srs.protocol.request import Request
from srs.remux.dvr import Action, AppendFile, CloseFile, DvrClosed, DvrPlan, OpenFile, applies, inside

# (publisher's client id, request, closed file's path): the app calls the on_dvr hook with it.
OnDvr = Callable[[str, Request, str], None]

log = logging.getLogger("srs")


def _now_ms() -> int:
    return int(time.time() * 1000)


class DvrSink(FeedSink):
    """The Source's consumer for one stream's recording (a :class:`~srs.media.consumer.Sink`).

    ``file``, ``path``, ``ok`` and ``failing`` belong to the worker thread.
    """

    def __init__(self, dvr: DvrOutputs, url: str, plan: DvrPlan, cid: str, req: Request) -> None:
        self.dvr = dvr
        self.url = url
        self.plan = plan
        self.cid = cid
        self.req = req
        self.wire = FeedWire(self.on_message, ("dvr", id(self)))
        self.done = False
        self.file: BinaryIO | None = None
        self.path = ""
        self.ok = False  # the current file is open and every action on it worked
        self.failing = False  # an error was logged and nothing worked since

    def on_message(self, msg: MediaMessage) -> None:
        if not self.done:
            self.dvr.submit(self.plan.on_message(msg, _now_ms()), self)

    def on_unpublish(self) -> None:
        self.finish()
        self.dvr.stopped(self.url, self)

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.dvr.submit(self.plan.on_unpublish(_now_ms()), self)


class DvrOutputs:
    """Every stream's recording; the app registers :meth:`on_publish` with the context."""

    def __init__(self, on_dvr: OnDvr | None = None) -> None:
        self.on_dvr = on_dvr
        self._sinks: dict[str, tuple[DvrSink, Consumer]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srs-dvr")
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_publish(self, source: Source, vhost: VhostConfig, req: Request) -> None:
        cfg = vhost.dvr
        if not cfg.enabled or not applies(cfg.apply, req.app, req.stream):
            return
        if cfg.plan not in ("session", "segment"):
            # SRS fails the publish ("illegal plan"); we keep the stream, unrecorded.
            log.error("DVR: %s not recorded: illegal plan=%s, vhost=%s", source.url, cfg.plan, vhost.name)
            return
        self._loop = asyncio.get_running_loop()
        url = source.url
        old = self._sinks.get(url)
        if old is not None:
            old[0].finish()
            self.stopped(url, old[0])
        plan = DvrPlan(cfg, vhost=vhost.name, app=req.app, stream=req.stream)
        sink = DvrSink(self, url, plan, str(getattr(source.publisher, "cid", "")), req)
        self._sinks[url] = (sink, source.create_consumer(sink))
        actions = plan.on_publish(_now_ms())
        log.info("DVR: %s -> %s (dvr_plan %s)", url, plan.current_path, cfg.plan)
        self.submit(actions, sink)

    def reload(self, vhost: VhostConfig, sources: Iterable[Source]) -> None:
        """The vhost's ``dvr`` changed: streams being published start, stop or restart their
        recording (SRS's ``on_reload_vhost_dvr``: a new plan and a new file). A recording that
        starts mid-stream begins with the metadata, sequence headers and GOP cache."""
        for source in sources:
            req = getattr(source.publisher, "request", None)
            if not isinstance(req, Request):
                continue
            entry = self._sinks.get(source.url)
            if entry is not None:
                if entry[0].plan.cfg == vhost.dvr:
                    continue
                entry[0].finish()
                self.stopped(source.url, entry[0])
            self.on_publish(source, vhost, req)

    def stopped(self, url: str, sink: DvrSink) -> None:
        entry = self._sinks.get(url)
        if entry is not None and entry[0] is sink:
            del self._sinks[url]
            entry[1].close()

    def submit(self, actions: list[Action], sink: DvrSink) -> None:
        for a in actions:
            done = self._pool.submit(self._perform, a, sink)
            if isinstance(a, DvrClosed) and self.on_dvr is not None and self._loop is not None:
                with_loop = asyncio.wrap_future(done, loop=self._loop)
                with_loop.add_done_callback(functools.partial(self._closed, sink, a))

    def _closed(self, sink: DvrSink, event: DvrClosed, done: asyncio.Future[bool]) -> None:
        assert self.on_dvr is not None
        if done.cancelled() or done.exception() is not None or not done.result():
            return  # the file could not be written: no on_dvr
        try:
            self.on_dvr(sink.cid, sink.req, event.path)
        except Exception:
            log.exception("DVR: on_dvr for %s failed", sink.url)

    # ------------------------------------------------------------------ worker thread

    def _perform(self, action: Action, sink: DvrSink) -> bool:
        """Run one action on the worker; for :class:`DvrClosed`, whether the file is complete."""
        if isinstance(action, DvrClosed):
            ok, sink.ok = sink.ok, False
            return ok
        try:
            if isinstance(action, OpenFile):
                self._open(action, sink)
            elif isinstance(action, AppendFile):
                if sink.file is not None:
                    sink.file.write(action.data)
                    sink.file.flush()  # in the kernel: a killed server leaves it in the file
            elif isinstance(action, CloseFile):
                self._close(action, sink)
        except OSError as e:
            self._fail(sink, f"cannot write {sink.path or getattr(action, 'path', '')}: {e}")
            if sink.file is not None:
                try:
                    sink.file.close()
                except OSError:
                    pass
                sink.file = None
            sink.ok = False
            return False
        if sink.failing and sink.ok:
            sink.failing = False
            log.info("DVR: %s writes again (%s)", sink.url, sink.path)
        return True

    def _open(self, action: OpenFile, sink: DvrSink) -> None:
        sink.ok = False
        sink.path = action.path
        if not inside(action.path, sink.plan.base):
            self._fail(sink, f"refused path {action.path} (outside {sink.plan.base or '.'})")
            return
        if os.path.exists(action.path):
            self._fail(sink, f"can't append to exists path={action.path}")
            return
        d = os.path.dirname(action.tmp)
        if d:
            os.makedirs(d, exist_ok=True)
        if os.path.lexists(action.tmp):
            # A recording left by a crash under the same name (dvr_path without [timestamp]):
            # SRS truncates it; we keep it beside, named after the time we found it.
            stem, ext = os.path.splitext(action.path)
            kept = f"{stem}.crashed-{_now_ms()}{ext}"
            os.replace(action.tmp, kept)
            log.warning("DVR: %s kept the recording a crash left in %s as %s", sink.url, action.tmp, kept)
        sink.file = open(action.tmp, "wb")  # noqa: SIM115 - closed by CloseFile
        sink.ok = True
        log.info("dvr stream %s to file %s", sink.req.stream, action.path)

    def _close(self, action: CloseFile, sink: DvrSink) -> None:
        f, sink.file = sink.file, None
        if f is None:
            return
        try:
            for offset, data in action.patches:
                f.seek(offset)
                f.write(data)
        finally:
            f.close()
        os.replace(action.tmp, action.path)
        sink.path = action.path

    def _fail(self, sink: DvrSink, what: str) -> None:
        sink.ok = False
        if sink.failing:
            return
        sink.failing = True
        log.error("DVR: %s %s; the stream goes on without recording", sink.url, what)

    def close(self) -> None:
        """Close every recording (its file renamed) and finish the pending file actions."""
        for sink, consumer in list(self._sinks.values()):
            sink.finish()
            consumer.close()
        self._sinks.clear()
        self._pool.shutdown(wait=True)

    def pending(self) -> Future[None]:
        """A future done once the actions submitted so far have run (tests)."""
        return self._pool.submit(lambda: None)
