"""What a user checks after playing a stream, as assertions with readable messages.

The expectation always comes from probing the *source* (ffprobe on the published file), never
from a guessed number: codecs, sizes and sample rates must be equal; frame counts and duration
must be within a stated tolerance; DTS must never go back within a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from support.flv import AUDIO, VIDEO, Tag, iter_tags
from support.tools import ProbeResult, StreamInfo


@dataclass(frozen=True)
class Tolerance:
    """Frames a player may see more or less than the source: ``max(minimum, fraction * expected)``."""

    fraction: float = 0.02
    minimum: int = 2

    def of(self, expected: int) -> int:
        return max(self.minimum, round(self.fraction * expected))


EXACT_ISH = Tolerance(0.0, 1)  # a player that was there from the first packet to the last


def _expected(src: StreamInfo, seconds: float | None) -> tuple[int, float]:
    """Frames and DTS span of the source within its first ``seconds`` (all when None)."""
    if seconds is None:
        return src.frames, src.duration
    kept = [d for d in src.dts if d - src.dts[0] < seconds]
    return len(kept), (kept[-1] - kept[0]) if len(kept) > 1 else 0.0


def assert_stream_matches(
    got: StreamInfo | None,
    src: StreamInfo,
    *,
    what: str,
    seconds: float | None = None,
    expected_frames: int | None = None,
    tol: Tolerance = Tolerance(),
    check_monotonic: bool = True,
) -> None:
    assert got is not None, f"{what}: no {src.codec_type} stream"
    assert got.codec_name == src.codec_name, f"{what}: codec {got.codec_name} != source {src.codec_name}"
    if src.codec_type == "video":
        assert (got.width, got.height) == (src.width, src.height), (
            f"{what}: size {got.width}x{got.height} != source {src.width}x{src.height}"
        )
    if src.codec_type == "audio" and got.sample_rate and src.sample_rate:
        assert got.sample_rate == src.sample_rate, (
            f"{what}: {got.sample_rate} Hz != source {src.sample_rate} Hz"
        )
        assert got.channels == src.channels, f"{what}: {got.channels} channels != source {src.channels}"
    frames, span = _expected(src, seconds)
    if expected_frames is not None:
        frames = expected_frames
        span = src.duration * frames / max(1, src.frames)
    t = tol.of(frames)
    assert abs(got.frames - frames) <= t, (
        f"{what}: {got.frames} {src.codec_type} frames, source has {frames} (tolerance +-{t})"
    )
    if check_monotonic:
        assert got.monotonic(), f"{what}: {src.codec_type} DTS goes back: {first_backstep(got)}"
    frame_s = span / max(1, frames - 1)
    slack = max(0.25, (t + 1) * frame_s)
    assert abs(got.duration - span) <= slack, (
        f"{what}: {src.codec_type} lasts {got.duration:.3f}s, source {span:.3f}s (+-{slack:.2f}s)"
    )


def assert_plays_like(
    got: ProbeResult,
    src: ProbeResult,
    *,
    what: str,
    seconds: float | None = None,
    tol: Tolerance = Tolerance(),
) -> None:
    """Both audio and video present, same codecs/sizes as the source, counts within ``tol``,
    per-stream DTS monotonic, duration sane. ``seconds`` compares with the source's first
    ``seconds`` only (a recording cut with ``-t``)."""
    assert src.video is not None and src.audio is not None, "the source must have audio and video"
    assert got.video is not None, f"{what}: no video stream (streams: {[s.codec_type for s in got.streams]})"
    assert got.audio is not None, f"{what}: no audio stream (streams: {[s.codec_type for s in got.streams]})"
    kinds = sorted(f"{s.codec_type}:{s.codec_name}" for s in got.streams)
    assert len(got.streams) == 2, f"{what}: expected one audio and one video stream, the player found {kinds}"
    assert_stream_matches(got.video, src.video, what=what, seconds=seconds, tol=tol)
    assert_stream_matches(got.audio, src.audio, what=what, seconds=seconds, tol=tol)


def problems_plays_like(
    got: ProbeResult,
    src: ProbeResult,
    *,
    what: str,
    scale: int = 1,
    tol: Tolerance = Tolerance(),
    check_monotonic: bool = True,
) -> list[str]:
    """Like :func:`assert_plays_like` but returns every problem found instead of stopping at the
    first (``scale``: the source was published that many times in a row)."""
    out: list[str] = []
    kinds = sorted(f"{s.codec_type}:{s.codec_name}" for s in got.streams)
    if len(got.streams) != 2:
        out.append(f"{what}: expected one audio and one video stream, the player found {kinds}")
    for mine, theirs in ((got.video, src.video), (got.audio, src.audio)):
        assert theirs is not None
        if mine is None:
            out.append(f"{what}: no {theirs.codec_type} stream")
            continue
        if check_monotonic and not mine.monotonic():
            out.append(f"{what}: {theirs.codec_type} DTS goes back: {first_backstep(mine)}")
        try:
            assert_stream_matches(
                mine, theirs, what=what, expected_frames=scale * theirs.frames, tol=tol, check_monotonic=False
            )
        except AssertionError as e:
            out.append(str(e).splitlines()[0])
    return out


def first_backstep(s: StreamInfo) -> str:
    for i, (a, b) in enumerate(zip(s.dts, s.dts[1:], strict=False)):
        if b < a:
            return f"packet {i + 1}: {a:.3f} -> {b:.3f}"
    return "none"


def _av_tags(data: bytes, keep: Callable[[Tag], bool]) -> list[Tag]:
    return [t for t in iter_tags(data) if t.type in (AUDIO, VIDEO) and keep(t)]


def assert_same_av_tags(
    got: bytes, src: bytes, *, what: str, keep: Callable[[Tag], bool] = lambda t: True
) -> None:
    """The audio/video tags (type, timestamp, body) of two FLV byte streams are identical:
    the server passed every message on untouched (``keep`` filters tags on both sides)."""
    mine, theirs = _av_tags(got, keep), _av_tags(src, keep)
    for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        if (a.type, a.timestamp_ms, a.data) != (b.type, b.timestamp_ms, b.data):
            raise AssertionError(
                f"{what}: A/V tag #{i} differs: got type {a.type} at {a.timestamp_ms} ms "
                f"{a.data[:12].hex()}.. ({len(a.data)} B), source type {b.type} at {b.timestamp_ms} ms "
                f"{b.data[:12].hex()}.. ({len(b.data)} B)"
            )
    assert len(mine) == len(theirs), f"{what}: {len(mine)} A/V tags, source has {len(theirs)}"
