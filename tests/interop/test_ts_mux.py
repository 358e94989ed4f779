"""Our MPEG-TS muxing, read by ffprobe: the clips' codecs, sizes, frame counts and timestamps survive."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from srs.format import flv
from srs.remux.rtmp import media_from_rtmp
from srs.remux.ts import TsRemuxer, stream_types
from support.media import clip
from support.rtmp_client import flv_tags

pytestmark = pytest.mark.interop


def mux(src: Path, dst: Path) -> None:
    tags = [t for t in flv_tags(src) if t.tag_type != flv.TagType.SCRIPT]
    msgs = [m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in tags) if m is not None]
    r = TsRemuxer(*stream_types(msgs))
    dst.write_bytes(r.tables() + b"".join(r.encode(m) for m in msgs))


def probe(path: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "warning", "-count_frames", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stderr == "", out.stderr  # no continuity, PES or decoding complaints
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


@pytest.mark.parametrize(
    ("name", "vcodec", "size", "frames"),
    [("bbb.flv", "h264", (640, 360), (250, 432)), ("avatar.flv", "h264", (768, 320), (282, 486)),
     ("hevc.flv", "hevc", (640, 360), (250, 432))],
)  # fmt: skip
def test_ffprobe_reads_our_ts(
    tmp_path: Path, name: str, vcodec: str, size: tuple[int, int], frames: tuple[int, int]
) -> None:
    out = tmp_path / "out.ts"
    mux(clip(name), out)
    s = probe(out)
    v, a = s["video"], s["audio"]
    assert (v["codec_name"], v["width"], v["height"]) == (vcodec, *size)
    assert (a["codec_name"], a["sample_rate"], a["channels"]) == ("aac", "44100", 2)
    assert (int(str(v["nb_read_frames"])), int(str(a["nb_read_frames"]))) == frames
    if name != "hevc.flv":  # (Debian's ffprobe cannot read Enhanced RTMP's hvc1 in FLV)
        # PTS and DTS as in the FLV, B-frames (avatar.flv) included
        assert times(out)[:60] == times(clip(name))[:60]


def times(path: Path) -> list[tuple[str, str]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,dts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    return [(f[0], f[1]) for f in (line.split(",") for line in out)]  # (TS lines carry side data after)
