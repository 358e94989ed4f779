"""DASH segmenting of the shared clips: fMP4 per kind, the MPD's timeline, the window, republish."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from srs.config.schema_vhost import DashConfig
from srs.format import mp4, mpd
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.dash import DashSegmenter
from srs.remux.hls import Action, RemoveFile, WriteFile
from srs.remux.rtmp import media_from_rtmp
from support.media import clip
from support.rtmp_client import flv_tags

MSGS = [
    m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in flv_tags(clip("bbb.flv"))) if m
]
CFG = DashConfig(enabled=True, fragment_s=2.0, window_size=3, path="/d")
NOW = 1_700_000_000_000


def run(seg: DashSegmenter, msgs: list[MediaMessage], offset_ms: int = 0) -> list[Action]:
    out: list[Action] = []
    for m in msgs:
        out += seg.on_message(m.with_timestamp(m.timestamp + offset_ms), NOW + m.timestamp)
    return out


def writes(actions: list[Action], part: str) -> list[WriteFile]:
    return [a for a in actions if isinstance(a, WriteFile) and part in a.path]


def test_fragments_inits_and_the_mpd() -> None:
    seg = DashSegmenter(CFG, vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(NOW + 10_000)
    inits = {a.path: a.data for a in writes(actions, "-init.mp4")}
    assert set(inits) == {"/d/live/s/video-init.mp4", "/d/live/s/audio-init.mp4"}
    assert [t.codec for t in mp4.read_init(inits["/d/live/s/video-init.mp4"])] == ["avc1"]
    assert [t.codec for t in mp4.read_init(inits["/d/live/s/audio-init.mp4"])] == ["mp4a"]
    video = writes(actions, "/video-")
    video = [v for v in video if v.path.endswith(".m4s")]
    assert [v.path for v in video[:2]] == ["/d/live/s/video-0.m4s", "/d/live/s/video-1.m4s"]
    for v in video:  # each video fragment starts with a keyframe
        assert mp4.read_fragments(v.data)[0].keyframe
    frames = sum(len(mp4.read_fragments(v.data)) for v in video)
    assert frames == len([m for m in MSGS if m.kind == VIDEO and not m.sequence_header]) - 1  # less EOS
    audio = [a for a in writes(actions, "/audio-") if a.path.endswith(".m4s")]
    assert sum(len(mp4.read_fragments(a.data)) for a in audio) == len(
        [m for m in MSGS if m.kind == AUDIO and not m.sequence_header]
    )
    text = writes(actions, ".mpd")[-1].data.decode()
    doc = mpd.parse(text)
    assert doc.base_url == "s/" and doc.update_period_s == 5.0
    assert doc.availability_start_ms == NOW  # wall clock minus the first timestamp (0)
    kinds = {r.kind: r for r in doc.representations}
    v, a = kinds["video"], kinds["audio"]
    assert (v.codecs, v.width, v.height) == ("avc1.42c01e", 640, 360)
    assert (a.codecs, a.sample_rate) == ("mp4a.40.2", 44100)
    assert len(v.timeline) == 3 and v.start_number == len(video) - 3  # dash_window_size
    # The timeline joins up and matches the fragments' own decode times.
    assert all(t + d == t2 for (t, d), (t2, _) in zip(v.timeline, v.timeline[1:], strict=False))
    last = mp4.read_fragments(video[-1].data)
    assert v.timeline[-1][0] == last[0].dts
    assert abs(doc.min_buffer_s - 2 * v.timeline[-1][1] / 1000) < 0.001


def test_the_mpd_has_what_the_schema_requires() -> None:
    seg = DashSegmenter(CFG, vhost="v", app="live", stream="s")
    text = writes(run(seg, MSGS), ".mpd")[-1].data.decode()
    ns = {"d": mpd.NS}
    root = ET.fromstring(text)
    # DASH-MPD.xsd: MPD@profiles, @minBufferTime required; dynamic needs availabilityStartTime;
    # Period, AdaptationSet, Representation@id and @bandwidth required.
    for attr in ("profiles", "minBufferTime", "type", "availabilityStartTime", "minimumUpdatePeriod"):
        assert root.get(attr), attr
    assert root.get("type") == "dynamic"
    periods = root.findall("d:Period", ns)
    assert len(periods) == 1
    for rep in periods[0].iterfind("d:AdaptationSet/d:Representation", ns):
        assert rep.get("id") in ("video", "audio") and int(rep.get("bandwidth", "0")) > 0
        tpl = rep.find("d:SegmentTemplate", ns)
        assert tpl is not None and tpl.get("media") == "$RepresentationID$-$Number$.m4s"
        assert tpl.find("d:SegmentTimeline/d:S", ns) is not None


def test_window_cleanup_dispose_and_republish() -> None:
    seg = DashSegmenter(replace(CFG, window_size=1), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(NOW)
    removed = [a.path for a in actions if isinstance(a, RemoveFile)]
    assert "/d/live/s/video-0.m4s" in removed  # once 2 x window_size x fragment newer ones exist
    newest = [a.path for a in writes(actions, "/video-") if a.path.endswith(".m4s")][-2:]
    assert not set(newest) & set(removed)
    n_video = len([a for a in writes(actions, "/video-") if a.path.endswith(".m4s")])
    again = run(seg, MSGS[:200], offset_ms=0) + seg.on_unpublish(NOW)
    paths = [a.path for a in writes(again, "/video-") if a.path.endswith(".m4s")]
    assert paths[0] == f"/d/live/s/video-{n_video}.m4s"  # numbers go on across republish
    gone = [a.path for a in seg.dispose() if isinstance(a, RemoveFile)]
    assert "/d/live/s.mpd" in gone and "/d/live/s/video-init.mp4" in gone and paths[-1] in gone


@pytest.mark.parametrize("kind", [AUDIO, VIDEO])
def test_a_single_kind_is_reaped_on_its_own(kind: int) -> None:
    seg = DashSegmenter(CFG, vhost="v", app="live", stream="s")
    actions = run(seg, [m for m in MSGS if m.kind == kind]) + seg.on_unpublish(NOW)
    doc = mpd.parse(writes(actions, ".mpd")[-1].data.decode())
    assert [r.kind for r in doc.representations] == ["audio" if kind == AUDIO else "video"]
    assert len(doc.representations[0].timeline) == 3
    assert all(1.9 <= d / 1000 <= 4.1 for _, d in doc.representations[0].timeline[:-1])


def test_mpd_round_trip_and_bad_input() -> None:
    rep = mpd.Representation("video", "hvc1.1.6.L93.B0", 800_000, 7, ((0, 2000), (2000, 2040)), 640, 360)
    doc = mpd.Mpd(NOW, NOW + 5000, 5.0, 4.04, 4.08, "s/", [rep])
    assert mpd.parse(doc.render()) == doc
    for bad in ("", "<x/>", "<MPD xmlns='urn:mpeg:dash:schema:mpd:2011'/>", "<MPD"):
        with pytest.raises(mpd.ParseError):
            mpd.parse(bad)
