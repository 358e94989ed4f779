"""DVR, sans-IO: one published stream's messages in, file actions out.

SRS's ``SrsDvr`` / ``SrsDvrPlan`` / ``SrsDvrSegmenter`` (``srs_app_dvr.cpp``), reproduced:

* ``dvr_apply``: ``all`` (or nothing) records every stream, otherwise only the listed
  ``app/stream`` names (:func:`applies`).
* The **session** plan opens a file when the stream is published and closes it when it is
  unpublished; a republish opens a new file. The **segment** plan also closes the file and opens
  the next one once it holds ``dvr_duration`` seconds (0: never), on the next video keyframe
  with ``dvr_wait_keyframe on`` (on any message otherwise); the new file starts with the metadata
  and the video and audio sequence headers, then the message that reaped it.
* Each file has its own ``time_jitter`` correction (``full`` / ``zero`` / ``off``, a fresh
  :class:`~srs.media.jitter.Jitter` per file as SRS's per-open ``SrsRtmpJitter``), so every file
  starts near zero with ``full``; its duration is the last timestamp minus the first
  (``SrsFragment``).
* The path is ``dvr_path`` with ``[vhost] [app] [stream] [timestamp]`` and the date parts expanded
  when the file opens (:func:`file_path`; a path not ending in ``.flv`` / ``.mp4`` gets
  ``/[stream].[timestamp].flv`` appended), written as ``<path>.tmp`` and renamed to ``<path>`` at
  close, ``[duration]`` (ms) expanded then. An existing ``<path>`` is never appended to.
* **FLV** (any path but ``.mp4``): the FLV header (audio and video flags set, as SRS), the first
  ``onMetaData`` of the file rewritten as SRS does (``filesize``/``duration`` removed, then
  ``service``, ``filesize`` 0, ``duration`` 0 appended; both patched with the real values at
  close), then the tags. With ``dvr_wait_keyframe`` video before the file's first keyframe is
  left out (sequence headers are kept).
* **MP4** (``.mp4``): a fragmented MP4 (:mod:`srs.remux.fmp4`): the init segment once the codecs
  are known, then a ``moof``+``mdat`` about every second. SRS writes a plain MP4 whose ``moov``
  comes at close, so a crash loses the whole file; ours is playable as it stands at any moment.
* Written data is handed out about once a second (:data:`FLUSH_MS` of media or of wall time),
  so a killed server leaves everything but the last second on disk, for FLV and MP4 alike.

Where we differ: a file that cannot be written costs the stream its recording only (one error
line, see :mod:`srs.output.dvr`), where SRS fails the publish or the publisher's next message;
the segment plan's keyframe test takes every video codec (SRS's tests ``SrsFlvVideo::h264`` only,
so HEVC is never reaped with ``dvr_wait_keyframe on``); ``[seq]`` stays literal as in SRS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from srs import SIGNATURE
from srs.config.schema_vhost import DvrConfig
from srs.format import amf0, flv
from srs.media.jitter import Jitter, JitterAlgorithm
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.remux.hls import expand
from srs.util.errors import ParseError

FLUSH_MS = 1000  # hand written data to the file about this often (media or wall time)
FLUSH_BYTES = 4 * 1024 * 1024  # ... or once this much is waiting
MAX_HELD = 1000  # MP4: messages kept while the tracks are not known yet
DEFAULT_FILE = "/[stream].[timestamp].flv"  # SRS: appended to a dvr_path that names no file
_LITERAL = re.compile(r"(\[duration\]|\[seq\])")  # left for close ([duration]) or as SRS does ([seq])


@dataclass(frozen=True, slots=True)
class OpenFile:
    """Create ``tmp`` (and its directory); refused if ``path`` exists (SRS never appends)."""

    path: str
    tmp: str


@dataclass(frozen=True, slots=True)
class AppendFile:
    """Append to the file opened last."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CloseFile:
    """Write ``patches`` (offset, bytes), close, rename ``tmp`` to ``path``."""

    tmp: str
    path: str
    patches: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class DvrClosed:
    """A file is closed and renamed (after the actions before it): SRS's ``on_dvr``."""

    path: str
    duration_ms: int


Action = OpenFile | AppendFile | CloseFile | DvrClosed


def applies(apply: Sequence[str], app: str, stream: str) -> bool:
    """``srs_config_apply_filter``: no entry or ``all`` is every stream, else ``app/stream``."""
    if not apply or (len(apply) == 1 and apply[0] == "all"):
        return True
    return f"{app}/{stream}" in apply


def is_mp4(template: str) -> bool:
    return template.endswith(".mp4")


def file_path(template: str, *, vhost: str, app: str, stream: str, now_ms: int) -> str:
    """``SrsDvrSegmenter::generate_path``: the template at open time; ``[duration]`` stays."""
    if not template.endswith((".flv", ".mp4")):
        template += DEFAULT_FILE
    parts = _LITERAL.split(template)
    return "".join(
        p if i % 2 else expand(p, vhost=vhost, app=app, stream=stream, now_ms=now_ms)
        for i, p in enumerate(parts)
    )


def base_dir(template: str) -> str:
    """The directory of the template's fixed part: every DVR file of it lies under it."""
    fixed = template.split("[", 1)[0]
    return os.path.dirname(fixed) if "[" in template or template.endswith((".flv", ".mp4")) else fixed


def inside(path: str, base: str) -> bool:
    """``path`` (normalised) is ``base`` or below it."""
    p, b = os.path.normpath(path), os.path.normpath(base or ".")
    if b == ".":
        return not os.path.isabs(p) and p != ".." and not p.startswith(".." + os.sep)
    return p.startswith(b.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- containers


class Container(Protocol):
    def start(self) -> bytes: ...
    def metadata(self, msg: MediaMessage, pos: int) -> bytes: ...
    def media(self, msg: MediaMessage) -> bytes: ...
    def can_cut(self, nxt: MediaMessage) -> bool: ...
    def drain(self, end_ms: int | None = None) -> bytes: ...
    def patches(self, size: int, duration_ms: int) -> tuple[tuple[int, bytes], ...]: ...


class FlvFile:
    """``SrsDvrFlvSegmenter``: header, the rewritten metadata, tags as they come."""

    def __init__(self, wait_keyframe: bool) -> None:
        self.wait_keyframe = wait_keyframe
        self.has_keyframe = False
        self._filesize_at = 0  # file offsets of the AMF0 numbers patched at close (0: none)
        self._duration_at = 0

    def start(self) -> bytes:
        return flv.header(True, True)

    def metadata(self, msg: MediaMessage, pos: int) -> bytes:
        if self._duration_at:
            return b""  # SRS: once per file
        try:
            values = amf0.decode_all(msg.payload)
        except ParseError:
            return b""
        obj = next((v for v in values[1:] if isinstance(v, dict)), None)
        if not values or not isinstance(values[0], str) or obj is None:
            return b""
        props = {str(k): v for k, v in obj.items() if k not in ("filesize", "duration")}
        props["service"] = SIGNATURE
        props["filesize"] = 0.0
        props["duration"] = 0.0
        body = amf0.encode(values[0], props)
        # ... "duration" <9-byte number> <object end (3)>; "filesize" <number> right before it.
        self._duration_at = pos + 11 + len(body) - 3 - 9
        self._filesize_at = self._duration_at - 10 - 9
        return flv.encode_tag(DATA, 0, body)

    def media(self, msg: MediaMessage) -> bytes:
        if msg.kind == VIDEO and not msg.sequence_header:
            if msg.keyframe:
                self.has_keyframe = True
            elif self.wait_keyframe and not self.has_keyframe:
                return b""
        return flv.encode_tag(msg.kind, msg.timestamp, msg.payload)

    def can_cut(self, nxt: MediaMessage) -> bool:
        return True

    def drain(self, end_ms: int | None = None) -> bytes:
        return b""  # tags are produced as they come

    def patches(self, size: int, duration_ms: int) -> tuple[tuple[int, bytes], ...]:
        """``refresh_metadata``: the file's size and duration (s) into the metadata."""
        if not self._duration_at:
            return ()
        return (
            (self._filesize_at, amf0.encode(float(size))),
            (self._duration_at, amf0.encode(duration_ms / 1000)),
        )


class Mp4File:
    """A fragmented MP4: init segment once the tracks and codecs are known, then fragments."""

    def __init__(self, wait_keyframe: bool, tracks: tuple[bool, bool] | None) -> None:
        from srs.remux import fmp4  # the fMP4 writer (shared with HLS fMP4 and DASH)

        self._fmp4 = fmp4
        self.wait_keyframe = wait_keyframe
        self.has_keyframe = False
        self.tracks = tracks
        self._held: list[MediaMessage] = []
        self._remuxer: fmp4.Fmp4Remuxer | None = (
            None if not tracks or not any(tracks) else fmp4.Fmp4Remuxer(*tracks)
        )
        self._started = False

    def start(self) -> bytes:
        return b""

    def metadata(self, msg: MediaMessage, pos: int) -> bytes:
        return b""  # SRS: the MP4 DVR ignores metadata

    def media(self, msg: MediaMessage) -> bytes:
        if msg.kind == VIDEO and not msg.sequence_header:
            if msg.keyframe:
                self.has_keyframe = True
            elif self.wait_keyframe and not self.has_keyframe:
                return b""
        if self._remuxer is None:
            self._held.append(msg)
            if self.tracks == (False, False):
                return b""  # no codec MP4 can carry (e.g. Speex): the file stays empty
            tracks = self._fmp4.settle_tracks(self._held)
            if tracks is None:
                if len(self._held) > MAX_HELD:  # a stream whose time never moves: bounded
                    self._held = [m for m in self._held if m.sequence_header][-2:]
                return b""
            self.tracks = tracks
            if tracks == (False, False):
                self._held.clear()
                return b""
            self._remuxer = self._fmp4.Fmp4Remuxer(*tracks)
            held, self._held = self._held, []
            for m in held:
                self._remuxer.add(m)
        else:
            self._remuxer.add(msg)
        if not self._started and self._remuxer.ready:
            self._started = True
            return self._remuxer.init_segment()
        return b""

    def can_cut(self, nxt: MediaMessage) -> bool:
        """A fragment ends right before a video frame (its last frame's duration then is exact),
        anywhere in a stream without video."""
        if self.tracks is not None and not self.tracks[0]:
            return True
        return nxt.kind == VIDEO and not nxt.sequence_header

    def drain(self, end_ms: int | None = None) -> bytes:
        """The ``moof`` + ``mdat`` of what is queued (nothing before the init segment)."""
        if self._remuxer is None or not self._started:
            return b""
        return self._remuxer.flush(end_ms)

    def patches(self, size: int, duration_ms: int) -> tuple[tuple[int, bytes], ...]:
        return ()


# --------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class _File:
    path: str
    tmp: str
    container: Container
    jitter: Jitter
    pos: int = 0  # bytes produced so far (the file offset of the next byte)
    start_ts: int = -1
    duration_ms: int = 0
    last_flush_ts: int | None = None
    last_flush_wall: int = 0

    def append_ts(self, ts: int) -> None:
        """``SrsFragment::append``: the duration is the last timestamp minus the smallest."""
        ts = max(0, ts)
        self.start_ts = ts if self.start_ts < 0 else min(self.start_ts, ts)
        self.duration_ms = ts - self.start_ts


class DvrPlan:
    """One publish of one stream: SRS's session or segment plan with its segmenter."""

    def __init__(self, cfg: DvrConfig, *, vhost: str, app: str, stream: str) -> None:
        self.cfg = cfg
        self.vhost, self.app, self.stream = vhost, app, stream
        self.segment = cfg.plan == "segment"
        self.mp4 = is_mp4(cfg.path)
        self.algorithm = JitterAlgorithm.parse(cfg.time_jitter)
        self.base = base_dir(cfg.path)
        self._file: _File | None = None
        self._buf = bytearray()
        self._metadata: MediaMessage | None = None
        self._video_sh: MediaMessage | None = None
        self._audio_sh: MediaMessage | None = None
        self._tracks: tuple[bool, bool] | None = None  # MP4: known after the first file's settle
        self.files = 0
        self._last_open_ms = 0

    @property
    def recording(self) -> bool:
        return self._file is not None

    @property
    def current_path(self) -> str | None:
        return None if self._file is None else self._file.path

    # ------------------------------------------------------------------ input

    def on_publish(self, now_ms: int) -> list[Action]:
        """The stream is published: the first file opens (``SrsDvrPlan::on_publish``)."""
        out: list[Action] = []
        self._close(out)
        self._open(out, now_ms)
        return out

    def on_message(self, msg: MediaMessage, now_ms: int) -> list[Action]:
        out: list[Action] = []
        if msg.kind == DATA:
            self._metadata = msg
            if self._file is not None:
                self._write_metadata(msg)
            return out
        if msg.kind != VIDEO and msg.kind != AUDIO:
            return out
        new_config = False
        if msg.sequence_header:
            old = self._video_sh if msg.kind == VIDEO else self._audio_sh
            new_config = old is not None and old.payload != msg.payload
            if msg.kind == VIDEO:
                self._video_sh = msg
            else:
                self._audio_sh = msg
        f = self._file
        if f is None:
            return out
        # An MP4's codec configurations are in its init segment: new ones (the encoder restarted
        # with other settings) start a new file, as a segment does. FLV carries them inline.
        if (self.segment and self._should_reap(f, msg)) or (self.mp4 and new_config):
            self._close(out)
            self._open(out, now_ms)
            # SrsOriginHub::on_dvr_request_sh: metadata, video then audio sequence header. We
            # stamp them with the reaping message's time (SRS keeps their old one, which starts
            # the file's duration back there with time_jitter zero/off: every keyframe reaps).
            if self._metadata is not None:
                self._write_metadata(self._metadata)
            for sh in (self._video_sh, self._audio_sh):
                if sh is not None and sh is not msg:
                    self._write_av(sh.with_timestamp(msg.timestamp))
        f = self._file
        assert f is not None
        m = f.jitter.correct(msg, self.algorithm)
        self._maybe_flush(out, now_ms, m)
        self._write_corrected(m)
        return out

    def on_unpublish(self, now_ms: int) -> list[Action]:
        """The publisher left: the file is closed (and ``on_dvr`` follows)."""
        out: list[Action] = []
        self._close(out)
        return out

    # ------------------------------------------------------------------ files

    def _should_reap(self, f: _File, msg: MediaMessage) -> bool:
        """``SrsDvrSegmentPlan::update_duration``."""
        limit = self.cfg.duration_s * 1000
        if limit <= 0 or f.duration_ms < limit:
            return False
        if self.cfg.wait_keyframe:
            return msg.kind == VIDEO and msg.keyframe and not msg.sequence_header
        return True

    def _open(self, out: list[Action], now_ms: int) -> None:
        # Two files in the same millisecond (a publish faster than real time reaps often) would
        # get the same [timestamp] name and SRS refuses the second; each open takes a later ms.
        now_ms = max(now_ms, self._last_open_ms + 1)
        self._last_open_ms = now_ms
        path = file_path(self.cfg.path, vhost=self.vhost, app=self.app, stream=self.stream, now_ms=now_ms)
        container: Container = (
            Mp4File(self.cfg.wait_keyframe, self._tracks) if self.mp4 else FlvFile(self.cfg.wait_keyframe)
        )
        f = self._file = _File(path, path + ".tmp", container, Jitter(), last_flush_wall=now_ms)
        self.files += 1
        out.append(OpenFile(path, f.tmp))
        self._put(container.start())

    def _put(self, data: bytes) -> None:
        if data and self._file is not None:
            self._buf += data
            self._file.pos += len(data)

    def _write_metadata(self, msg: MediaMessage) -> None:
        f = self._file
        assert f is not None
        self._put(f.container.metadata(msg, f.pos))

    def _write_av(self, msg: MediaMessage) -> None:
        f = self._file
        assert f is not None
        self._write_corrected(f.jitter.correct(msg, self.algorithm))

    def _write_corrected(self, m: MediaMessage) -> None:
        f = self._file
        assert f is not None
        f.append_ts(m.timestamp)
        self._put(f.container.media(m))
        if f.last_flush_ts is None:
            f.last_flush_ts = m.timestamp

    def _maybe_flush(self, out: list[Action], now_ms: int, nxt: MediaMessage) -> None:
        """Before ``nxt`` (on the file's timeline) is written: hand what waits to the file once
        a second of media or of wall time (or ``FLUSH_BYTES``), where the container can cut."""
        f = self._file
        assert f is not None
        ts = f.start_ts + f.duration_ms
        if not (
            (f.last_flush_ts is not None and ts - f.last_flush_ts >= FLUSH_MS)
            or now_ms - f.last_flush_wall >= FLUSH_MS
            or len(self._buf) >= FLUSH_BYTES
        ) or not f.container.can_cut(nxt):
            return
        self._put(f.container.drain(nxt.timestamp))
        f.last_flush_ts, f.last_flush_wall = ts, now_ms
        if self._buf:
            out.append(AppendFile(bytes(self._buf)))
            self._buf.clear()

    def _close(self, out: list[Action]) -> None:
        f = self._file
        if f is None:
            return
        if isinstance(f.container, Mp4File):
            self._tracks = f.container.tracks
        self._put(f.container.drain())
        patches = f.container.patches(f.pos, f.duration_ms)
        self._file = None
        if self._buf:
            out.append(AppendFile(bytes(self._buf)))
            self._buf.clear()
        final = f.path.replace("[duration]", str(f.duration_ms))
        out.append(CloseFile(f.tmp, final, patches))
        out.append(DvrClosed(final, f.duration_ms))
