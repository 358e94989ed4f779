"""PyAV as a real client: its bundled FFmpeg (8.x) speaks Enhanced RTMP, which Debian's 5.1 does not.

* :func:`encode_lavfi` encodes a short synthetic clip (testsrc2 + sine) with any encoder PyAV has
  (libx265 gives HEVC; in FLV the muxer writes the E-RTMP ``hvc1`` form).
* :class:`PyavPublisher` publishes a file over RTMP in real time from a thread, muxing with
  PyAV's own FLV muxer and RTMP protocol (``av.open(url, "w", format="flv")``).
* :func:`pyav_probe` plays a URL (or reads a file) with PyAV and returns the same
  :class:`~support.tools.ProbeResult` that ffprobe gives.
"""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from support.tools import ProbeResult, StreamInfo


def encode_lavfi(
    out: Path,
    *,
    vcodec: str = "libx265",
    seconds: float = 3,
    size: tuple[int, int] = (320, 240),
    rate: int = 25,
    gop: int = 25,
    bframes: int = 2,
    fmt: str = "flv",
) -> Path:
    """Encode testsrc2 + a 440 Hz sine to ``out``; video and audio interleaved by time."""
    w, h = size
    vin = av.open(f"testsrc2=size={w}x{h}:rate={rate}:duration={seconds}", format="lavfi")
    ain = av.open(f"sine=frequency=440:sample_rate=44100:duration={seconds}", format="lavfi")
    with av.open(str(out), "w", format=fmt) as oc:
        vs = oc.add_stream(vcodec, rate=rate)
        assert isinstance(vs, VideoStream)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = Fraction(1, rate)
        if vcodec == "libx265":
            vs.options = {
                "preset": "ultrafast",
                "x265-params": f"log-level=error:keyint={gop}:min-keyint={gop}:bframes={bframes}",
            }
        else:
            vs.options = {"g": str(gop), "bf": str(bframes), "preset": "ultrafast"}
        as_ = oc.add_stream("aac", rate=44100)
        assert isinstance(as_, AudioStream)
        vframes = vin.decode(video=0)
        aframes = ain.decode(audio=0)
        vnext: Any = next(vframes, None)
        anext: Any = next(aframes, None)
        while vnext is not None or anext is not None:
            # Feed whichever source is behind, so the muxer gets the two streams interleaved.
            if anext is None or (vnext is not None and vnext.time <= anext.time):
                for p in vs.encode(vnext):
                    oc.mux(p)
                vnext = next(vframes, None)
            else:
                anext.pts = None
                for p in as_.encode(anext):
                    oc.mux(p)
                anext = next(aframes, None)
        for st in (vs, as_):
            for p in st.encode():
                oc.mux(p)
    vin.close()
    ain.close()
    return out


class PyavPublisher(threading.Thread):
    """Publish ``path`` to ``url`` (RTMP) with PyAV, pacing packets by DTS like ``ffmpeg -re``."""

    def __init__(self, url: str, path: Path, *, realtime: bool = True) -> None:
        super().__init__(daemon=True, name=f"pyav-publish {url}")
        self.url = url
        self.path = path
        self.realtime = realtime
        self.packets = 0
        self.error: BaseException | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            with av.open(str(self.path)) as inp, av.open(self.url, "w", format="flv") as out:
                streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
                t0 = time.monotonic()
                first: float | None = None
                for p in inp.demux():
                    if self.stop_event.is_set():
                        break
                    if p.dts is None or p.size == 0:
                        continue
                    at = float(p.dts * p.time_base)
                    first = at if first is None else first
                    if self.realtime:
                        wait = t0 + (at - first) - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                    p.stream = streams[p.stream.index]
                    out.mux(p)
                    self.packets += 1
        except BaseException as e:  # reported to the test through .error
            self.error = e

    def finish(self, timeout_s: float = 30) -> int:
        """Wait for the end of the file; raise what the publisher hit; return packets sent."""
        self.join(timeout_s)
        if self.is_alive():
            raise TimeoutError(f"PyAV publisher to {self.url} still running after {timeout_s}s")
        if self.error is not None:
            raise self.error
        return self.packets


def pyav_probe(
    target: str | Path, *, max_packets: int = 0, max_seconds: float = 30, rw_timeout_s: float = 10
) -> ProbeResult:
    """Demux ``target`` with PyAV; stop after ``max_packets`` (0: until the end) or ``max_seconds``."""
    opts = {"rw_timeout": str(int(rw_timeout_s * 1_000_000))} if "://" in str(target) else {}
    deadline = time.monotonic() + max_seconds
    with av.open(str(target), options=opts, timeout=rw_timeout_s) as c:
        infos: dict[int, StreamInfo] = {}
        for s in c.streams:
            cc = s.codec_context
            infos[s.index] = StreamInfo(
                index=s.index,
                codec_type=s.type,
                codec_name=cc.name,
                width=int(getattr(cc, "width", 0) or 0),
                height=int(getattr(cc, "height", 0) or 0),
                sample_rate=int(getattr(cc, "sample_rate", 0) or 0),
                channels=int(getattr(cc, "channels", 0) or 0),
                profile=str(cc.profile or ""),
            )
        n = 0
        for p in c.demux():
            if p.size == 0 or p.dts is None:
                continue  # the flush packet at the end
            info = infos[p.stream.index]
            info.dts.append(float(p.dts * p.time_base))
            info.key.append(bool(p.is_keyframe))
            info.keyframes += int(p.is_keyframe)
            n += 1
            if (max_packets and n >= max_packets) or time.monotonic() > deadline:
                break
        fmt = c.format.name
    return ProbeResult(format_name=fmt, streams=list(infos.values()))
