"""Media messages -> fMP4 for the shared clips: every frame, in order, with its timing."""

from __future__ import annotations

import itertools

import pytest

from srs.format import mp4
from srs.format.flv import parse_audio, parse_video
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.fmp4 import Fmp4Remuxer, settle_tracks
from srs.remux.rtmp import media_from_rtmp
from support.media import clip
from support.media_fakes import audio, video
from support.rtmp_client import flv_tags


def messages(name: str) -> list[MediaMessage]:
    return [
        m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in flv_tags(clip(name))) if m
    ]


def remux(msgs: list[MediaMessage], r: Fmp4Remuxer) -> bytes:
    """Fragments cut at keyframes, as HLS and DASH cut them."""
    out = bytearray()
    for m in msgs:
        if m.keyframe and not m.sequence_header and r.ready:
            if not out:
                out += r.init_segment()
            out += r.flush(m.timestamp)
        r.add(m)
    return bytes(out + r.flush())


@pytest.mark.parametrize(
    ("name", "fourcc", "size"),
    [("bbb.flv", "avc1", (640, 360)), ("avatar.flv", "avc1", (768, 320)), ("hevc.flv", "hvc1", (640, 360))],
)
def test_every_frame_with_its_timing(name: str, fourcc: str, size: tuple[int, int]) -> None:
    msgs = messages(name)
    assert settle_tracks(msgs) == (True, True)
    data = remux(msgs, Fmp4Remuxer(True, True))
    video_t, audio_t = mp4.read_init(data)
    assert (video_t.codec, (video_t.width, video_t.height)) == (fourcc, size)
    assert (audio_t.codec, audio_t.sample_rate) == ("mp4a", 44100)
    samples = mp4.read_fragments(data)
    frames = [m for m in msgs if m.kind == VIDEO and parse_video(m.payload).packet_type in (1, 3)]
    got = [s for s in samples if s.track_id == video_t.track_id]
    assert len(got) == len(frames)
    for s, m in zip(got, frames, strict=True):
        info = parse_video(m.payload)
        assert (s.dts, s.cts, s.keyframe) == (m.timestamp, info.composition_time_ms, info.is_keyframe)
        assert s.data == m.payload[info.data_offset :]
    # Durations join up: each sample ends where the next begins (fragments included).
    assert all(a.dts + a.duration == b.dts for a, b in itertools.pairwise(got))
    sounds = [m for m in msgs if m.kind == AUDIO and not m.sequence_header]
    got_a = [s for s in samples if s.track_id == audio_t.track_id]
    assert [s.data for s in got_a] == [m.payload[parse_audio(m.payload).data_offset :] for m in sounds]
    assert [s.dts for s in got_a] == [m.timestamp * 44100 // 1000 for m in sounds]


def test_single_track_and_waiting_for_configs() -> None:
    r = Fmp4Remuxer(True, False)
    assert not r.ready
    r.add(video(0, key=True))  # a frame before the sequence header is not queued
    assert not r.has_samples
    with pytest.raises(ValueError):
        r.init_segment()
    msgs = messages("bbb.flv")
    for m in msgs[:60]:
        r.add(m)
    assert r.ready and r.has_samples and r.queued_ms > 0
    assert [t.handler for t in mp4.read_init(r.init_segment())] == [mp4.VIDE]
    frag = r.flush()
    assert {s.track_id for s in mp4.read_fragments(frag)} == {1}
    assert r.flush() == b""
    with pytest.raises(ValueError):
        Fmp4Remuxer(False, False)


def test_settle_waits_for_the_other_kind() -> None:
    assert settle_tracks([]) is None
    assert settle_tracks([video(0, key=True), video(500)]) is None
    assert settle_tracks([video(0, key=True), video(1000)]) == (True, False)  # the fakes are AVC and AAC
    assert settle_tracks([audio(0), audio(1000)]) == (False, True)


def test_a_new_sequence_header_after_init_is_reported() -> None:
    msgs = messages("bbb.flv")
    r = Fmp4Remuxer(True, True)
    for m in msgs[:60]:
        r.add(m)
    r.init_segment()
    assert not r.config_changed
    headers = [m for m in msgs if m.sequence_header]
    for m in headers:
        r.add(m)
    assert not r.config_changed  # the same config again changes nothing
    other = clip("avatar.flv")
    for m in [x for x in messages(other.name) if x.sequence_header]:
        r.add(m)
    assert r.config_changed
