"""HEVC over RTMP with PyAV's bundled FFmpeg (8.x): Debian's ffmpeg 5.1 predates Enhanced RTMP.

PyAV encodes a short testsrc2 + sine clip with libx265 into FLV (its muxer writes the E-RTMP
``hvc1`` FourCC form), publishes it in real time with its own RTMP client, and plays it back.
The HTTP-FLV bytes show what the server does with the tags: kept as they came (``hvc1`` stays
``hvc1``, legacy codec id 12 stays 12).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import EXACT_ISH, assert_plays_like, assert_same_av_tags
from support.flv import SCRIPT, VIDEO, Tag, capture_http_flv, ex_hevc_to_legacy, iter_tags
from support.pyav import PyavPublisher, encode_lavfi, pyav_probe
from support.server import SrsProcess
from support.tools import Clients, capture_rtmp_raw, publish_raw_flv

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def hevc_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 320x240 HEVC (B-frames, a keyframe a second) + AAC, encoded once per module."""
    out = tmp_path_factory.mktemp("hevc") / "hevc.flv"
    return encode_lavfi(out, vcodec="libx265", seconds=3, size=(320, 240), gop=25, bframes=2)


def _not_ex_metadata(t: Tag) -> bool:
    """E-RTMP video "metadata" packets (PacketType 4, colorInfo) are left out of byte
    comparisons with the file: PyAV's stream copy to RTMP writes its own (from the template's
    color parameters), so the file's differs from what was published."""
    return not (t.is_ex_video and t.data[0] & 0x0F == 4)


def test_source_clip_is_enhanced_rtmp_hevc(hevc_flv: Path) -> None:
    """The test input is what we think: E-RTMP HEVC (``hvc1``) + AAC, 320x240, B-frames."""
    tags = list(iter_tags(hevc_flv.read_bytes()))
    video = [t for t in tags if t.type == VIDEO]
    assert {t.video_codec for t in video} == {"hvc1"}
    assert video[0].is_sequence_header and video[0].is_keyframe
    src = pyav_probe(hevc_flv)
    assert src.video is not None and src.audio is not None
    assert (src.video.codec_name, src.video.width, src.video.height) == ("hevc", 320, 240)
    assert src.video.frames == 75 and src.audio.codec_name == "aac"


def test_hevc_published_and_played_with_pyav(
    hevc_flv: Path,
    srs: SrsProcess,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    """Publish with PyAV in real time; a PyAV RTMP player and an HTTP-FLV reader get HEVC of the
    right size and every frame; the server passes the ``hvc1`` tags on byte for byte, over
    HTTP-FLV and RTMP."""
    src = pyav_probe(hevc_flv)
    rtmp = bg.submit(pyav_probe, srs.rtmp_url(stream_name), max_packets=src.packets, max_seconds=20)
    flv = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=20)
    raw = clients.add(capture_rtmp_raw(srs.rtmp_url(stream_name), tmp_path / "rtmp.raw.flv"))
    srs.wait_players(stream_name, 3)

    publisher = PyavPublisher(srs.rtmp_url(stream_name), hevc_flv)
    publisher.start()
    assert publisher.finish(timeout_s=30) == src.packets

    got = rtmp.result(timeout=15)
    assert_plays_like(got, src, what="PyAV RTMP player", tol=EXACT_ISH)
    cap = flv.result(timeout=15)
    assert cap.ended and cap.status == 200
    assert {t.video_codec for t in cap.tags if t.type == VIDEO} == {"hvc1"}, (
        "the hvc1 FourCC form was not kept"
    )
    # PyAV's RTMP muxer writes the same tags as its file muxer: the server must not touch them.
    src_bytes = hevc_flv.read_bytes()
    assert_same_av_tags(cap.body, src_bytes, what="HTTP-FLV bytes", keep=_not_ex_metadata)
    _, err = raw.communicate(timeout=15)
    assert raw.returncode == 0, err.decode(errors="replace")
    rtmp_bytes = (tmp_path / "rtmp.raw.flv").read_bytes()
    assert {t.video_codec for t in iter_tags(rtmp_bytes) if t.type == VIDEO} == {"hvc1"}
    assert_same_av_tags(rtmp_bytes, src_bytes, what="RTMP message payloads", keep=_not_ex_metadata)
    assert cap.tags[0].type == SCRIPT, "onMetaData first"
    played = tmp_path / "played.flv"
    played.write_bytes(cap.body)
    again = pyav_probe(played)
    assert_plays_like(again, src, what="PyAV reading the HTTP-FLV bytes", tol=EXACT_ISH)


def test_legacy_codec_id_12_hevc_passes_through(
    hevc_flv: Path,
    srs: SrsProcess,
    stream_name: str,
    clients: Clients,
    bg: ThreadPoolExecutor,
    tmp_path: Path,
) -> None:
    """Legacy HEVC (FLV codec id 12, the pre-E-RTMP form) published by ffmpeg's RTMP client
    (raw FLV tags) is played back as id 12, byte for byte over HTTP-FLV and RTMP, and PyAV
    decodes it as HEVC."""
    legacy = tmp_path / "legacy.flv"
    legacy.write_bytes(ex_hevc_to_legacy(hevc_flv.read_bytes()))
    src = pyav_probe(legacy)
    assert src.video is not None and src.video.codec_name == "hevc"
    rtmp = bg.submit(pyav_probe, srs.rtmp_url(stream_name), max_packets=src.packets, max_seconds=20)
    flv = bg.submit(capture_http_flv, srs.flv_url(stream_name), max_seconds=20)
    raw = clients.add(capture_rtmp_raw(srs.rtmp_url(stream_name), tmp_path / "rtmp.raw.flv"))
    srs.wait_players(stream_name, 3)

    pub = clients.add(publish_raw_flv(srs.rtmp_url(stream_name), legacy))
    _, err = pub.communicate(timeout=30)
    assert pub.returncode == 0, err.decode(errors="replace")

    cap = flv.result(timeout=15)
    assert cap.ended
    assert {t.video_codec for t in cap.tags if t.type == VIDEO} == {"hevc"}, "legacy id 12 was rewritten"
    assert_same_av_tags(cap.body, legacy.read_bytes(), what="HTTP-FLV bytes")
    _, err = raw.communicate(timeout=15)
    assert raw.returncode == 0, err.decode(errors="replace")
    assert_same_av_tags(
        (tmp_path / "rtmp.raw.flv").read_bytes(), legacy.read_bytes(), what="RTMP message payloads"
    )
    assert_plays_like(rtmp.result(timeout=15), src, what="PyAV RTMP player of legacy HEVC", tol=EXACT_ISH)
