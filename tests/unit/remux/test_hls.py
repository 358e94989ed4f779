"""HLS segmenter: SRS's reap rules, the window, cleanup, discontinuity on republish, names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srs.config.schema_vhost import HlsConfig
from srs.format import m3u8, mp4
from srs.format.ts import TsDemuxer
from srs.media.message import MediaMessage
from srs.remux.hls import Action, HlsSegmenter, RemoveFile, SegmentClosed, WriteFile, expand
from srs.remux.hls_body import decrypt
from srs.remux.rtmp import media_from_rtmp
from support.media import clip
from support.rtmp_client import flv_tags

MSGS = [
    m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in flv_tags(clip("bbb.flv"))) if m
]
CFG = HlsConfig(enabled=True, fragment_s=2.0, window_s=6.0, path="/hls")


def run(seg: HlsSegmenter, msgs: list[MediaMessage], offset_ms: int = 0) -> list[Action]:
    out: list[Action] = []
    for m in msgs:
        out += seg.on_message(m.with_timestamp(m.timestamp + offset_ms), 1_700_000_000_000)
    return out


def test_segments_start_at_keyframes_after_the_fragment() -> None:
    seg = HlsSegmenter(CFG, vhost="__defaultVhost__", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(0)
    writes = [a for a in actions if isinstance(a, WriteFile)]
    ts_files = [a for a in writes if a.path.endswith(".ts")]
    assert [a.path for a in ts_files][:3] == ["/hls/live/s-0.ts", "/hls/live/s-1.ts", "/hls/live/s-2.ts"]
    for f in ts_files:
        d = TsDemuxer()
        frames = d.feed(f.data) + d.flush()
        video = [fr for fr in frames if fr.stream_type == 0x1B]
        assert d.errors == 0 and video[0].random_access  # every segment starts with a keyframe
    playlist = m3u8.parse(writes[-1].data.decode())
    assert writes[-1].path == "/hls/live/s.m3u8"
    assert all(1.9 <= s.duration_s <= 6 for s in playlist.segments[:-1])
    assert sum(s.duration_s for s in playlist.segments) <= 6.0 + 4  # the window (plus the newest)
    closed = [a for a in actions if isinstance(a, SegmentClosed)]
    assert [c.seq_no for c in closed] == list(range(len(ts_files)))  # one on_hls per segment
    assert (closed[0].url, closed[0].m3u8_url, closed[0].file) == (
        "s-0.ts",
        "live/s.m3u8",
        "/hls/live/s-0.ts",
    )
    removed = [a.path for a in actions if isinstance(a, RemoveFile)]
    assert removed and removed[0] == "/hls/live/s-0.ts"  # hls_cleanup: old segments leave
    assert (
        playlist.segments[0].uri.startswith("s-") and playlist.media_sequence == playlist.segments[0].sequence
    )


def test_republish_continues_the_sequence_with_a_discontinuity() -> None:
    seg = HlsSegmenter(replace(CFG, window_s=60.0), vhost="v", app="live", stream="s")
    run(seg, MSGS[:200])
    seg.on_unpublish(0)
    actions = run(seg, MSGS[:200], offset_ms=100_000) + seg.on_unpublish(0)
    playlist = m3u8.parse([a for a in actions if isinstance(a, WriteFile)][-1].data.decode())
    seqs = [s.sequence for s in playlist.segments]
    assert seqs == list(range(len(seqs)))
    first_of_second = next(s for s in playlist.segments if s.discontinuity)
    assert first_of_second.sequence > 0


def test_no_keyframe_wait_and_no_cleanup() -> None:
    cfg = replace(CFG, wait_keyframe=False, cleanup=False, fragment_s=1.0, window_s=2.0)
    seg = HlsSegmenter(cfg, vhost="v", app="live", stream="s")
    actions = run(seg, MSGS)
    assert not [a for a in actions if isinstance(a, RemoveFile)]
    assert len([a for a in actions if isinstance(a, WriteFile) and a.path.endswith(".ts")]) >= 8


def test_templates() -> None:
    now = 1_700_000_000_123
    assert expand(
        "[vhost]/[app]/[stream]-[seq]-[timestamp]-[999].ts", vhost="v", app="a", stream="s", seq=7, now_ms=now
    ) == ("v/a/s-7-1700000000123-123.ts")
    assert len(expand("[2006][01][02][15][04][05]", vhost="", app="", stream="", now_ms=now)) == 14
    seg = HlsSegmenter(replace(CFG, entry_prefix="http://cdn/x/"), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS[:300])
    playlist = m3u8.parse([a for a in actions if isinstance(a, WriteFile)][-1].data.decode())
    assert playlist.segments[0].uri == "http://cdn/x/s-0.ts"


def test_playlist_round_trip() -> None:
    p = m3u8.MediaPlaylist([m3u8.Segment("a-3.ts", 10.04, 3), m3u8.Segment("a-4.ts", 9.5, 4, True)])
    text = p.render()
    assert "#EXT-X-TARGETDURATION:11" in text and "#EXT-X-MEDIA-SEQUENCE:3" in text
    assert "#EXTINF:10.040, no desc" in text and "#EXT-X-DISCONTINUITY\n#EXTINF:9.500" in text
    back = m3u8.parse(text)
    assert back.segments == p.segments and back.target_duration == 11


def test_an_independent_parser_reads_our_playlists() -> None:
    """The PyPI ``m3u8`` library (not ours) agrees on every segment, duration and tag."""
    import m3u8 as m3u8_lib  # type: ignore[import-untyped]

    seg = HlsSegmenter(replace(CFG, window_s=60.0), vhost="v", app="live", stream="s")
    run(seg, MSGS)
    seg.on_unpublish(0)
    actions = run(seg, MSGS, offset_ms=100_000) + seg.on_unpublish(0)
    text = [a for a in actions if isinstance(a, WriteFile) and a.path.endswith(".m3u8")][-1].data.decode()
    ours = m3u8.parse(text)
    theirs = m3u8_lib.loads(text)
    assert theirs.version == 3 and theirs.media_sequence == ours.media_sequence
    assert theirs.target_duration == ours.target_duration
    assert [s.uri for s in theirs.segments] == [s.uri for s in ours.segments]
    assert [round(s.duration, 3) for s in theirs.segments] == [round(s.duration_s, 3) for s in ours.segments]
    assert [s.discontinuity for s in theirs.segments] == [s.discontinuity for s in ours.segments]
    assert any(s.discontinuity for s in theirs.segments)
    assert all(s.duration <= theirs.target_duration for s in theirs.segments)  # RFC 8216 4.3.3.1


def _writes(actions: list[Action], suffix: str) -> list[WriteFile]:
    return [a for a in actions if isinstance(a, WriteFile) and a.path.endswith(suffix)]


def test_fmp4_segments_follow_their_init_segment() -> None:
    seg = HlsSegmenter(replace(CFG, use_fmp4=True), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(0)
    writes = [a for a in actions if isinstance(a, WriteFile)]
    assert writes[0].path == "/hls/live/s-init.mp4"  # before the first segment, beside the playlist
    assert len(_writes(actions, "init.mp4")) == 1
    tracks = mp4.read_init(writes[0].data)
    assert [(t.codec, t.width) for t in tracks] == [("avc1", 640), ("mp4a", 0)]
    parts = _writes(actions, ".m4s")
    assert [p.path for p in parts[:2]] == ["/hls/live/s-0.m4s", "/hls/live/s-1.m4s"]
    samples = [s for p in parts for s in mp4.read_fragments(p.data)]
    video_frames = [m for m in MSGS if m.kind == 9 and not m.sequence_header and len(m.payload) > 5]
    assert len([s for s in samples if s.track_id == 1]) == len(video_frames)
    for p in parts:  # every segment starts with a keyframe
        assert next(s for s in mp4.read_fragments(p.data) if s.track_id == 1).keyframe
    playlist = m3u8.parse(_writes(actions, ".m3u8")[-1].data.decode())
    assert (playlist.version, playlist.map_uri) == (7, "s-init.mp4")
    # EXTINF = the media time of the segment's samples (up to the next segment's first frame).
    last = playlist.segments[-2]
    got = [s for s in mp4.read_fragments(parts[last.sequence].data) if s.track_id == 1]
    assert abs(sum(s.duration for s in got) / 1000 - last.duration_s) < 0.001
    # dispose removes the init segment too
    assert "/hls/live/s-init.mp4" in [a.path for a in seg.dispose()]


@pytest.mark.parametrize("fmp4", [False, True])
def test_keys_encrypt_every_segment_and_rotate(fmp4: bool) -> None:
    cfg = replace(
        CFG,
        keys=True,
        fragments_per_key=2,
        use_fmp4=fmp4,
        window_s=60.0,
        key_file_path="/keys",
        key_url="/hls",
    )
    seg = HlsSegmenter(cfg, vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(0)
    keys = {a.path: a.data for a in actions if isinstance(a, WriteFile) and a.path.endswith(".key")}
    segments = _writes(actions, ".m4s" if fmp4 else ".ts")
    assert list(keys) == [f"/keys/live/s-{n}.key" for n in range(0, len(segments), 2)]
    assert all(len(k) == 16 for k in keys.values()) and len(set(keys.values())) == len(keys)
    playlist = m3u8.parse(_writes(actions, ".m3u8")[-1].data.decode())
    text = _writes(actions, ".m3u8")[-1].data.decode()
    assert text.count("#EXT-X-KEY:METHOD=AES-128") == len(keys)
    for entry, data in zip(playlist.segments, segments, strict=True):
        assert entry.key is not None and entry.key.uri == f"s-{entry.sequence // 2 * 2}.key"
        clear = decrypt(data.data, keys[f"/keys/live/{entry.key.uri}"], entry.key.iv)
        if fmp4:
            assert mp4.read_fragments(clear)
        else:
            d = TsDemuxer()
            assert d.feed(clear) + d.flush() and d.errors == 0
    # hls_key_url unset (the config makes it hls_path): the key's URI is relative to the playlist,
    # where SRS writes hls_path + the file name, which no player can fetch.
    # hls_key_url set: SRS's URI is the URL and the key file name, as they are.
    seg = HlsSegmenter(replace(cfg, key_url="https://keys.example/"), vhost="v", app="live", stream="s")
    text = _writes(run(seg, MSGS[:300]), ".m3u8")[-1].data.decode()
    assert 'URI="https://keys.example/live/s-0.key"' in text


def test_ts_floor_numbers_pieces_of_wall_clock_time() -> None:
    cfg = replace(CFG, ts_floor=True, ts_file="[app]/[stream]-[timestamp].ts", fragment_s=2.0)
    seg = HlsSegmenter(cfg, vhost="v", app="live", stream="s")
    now = 1_700_000_000_000
    names = []
    for i, m in enumerate(MSGS):
        for a in seg.on_message(m, now + i * 10):  # the wall clock runs slower than the media
            if isinstance(a, WriteFile) and a.path.endswith(".ts"):
                names.append(int(a.path.rsplit("-", 1)[1][:-3]))
    first = now // 2000 - 1
    assert names[:3] == [first, first + 1, first + 2]  # one by one, whatever the clock does


@pytest.mark.parametrize(("acodec", "vcodec", "types"), [("an", "h264", {0x1B}), ("aac", "vn", {0x0F})])
def test_acodec_an_and_vcodec_vn_leave_a_kind_out(acodec: str, vcodec: str, types: set[int]) -> None:
    seg = HlsSegmenter(replace(CFG, acodec=acodec, vcodec=vcodec), vhost="v", app="live", stream="s")
    actions = run(seg, MSGS) + seg.on_unpublish(0)
    d = TsDemuxer()
    frames = [f for w in _writes(actions, ".ts") for f in d.feed(w.data)]
    assert {f.stream_type for f in frames} == types


def test_key_and_map_tags_round_trip_and_the_pypi_parser_agrees() -> None:
    import m3u8 as m3u8_lib

    k1, k2 = m3u8.Key("k-0.key", bytes(range(16))), m3u8.Key("https://x/k-2.key", bytes(16))
    p = m3u8.MediaPlaylist(
        [
            m3u8.Segment("a-0.m4s", 2.0, 0, key=k1),
            m3u8.Segment("a-1.m4s", 2.0, 1, key=k1),
            m3u8.Segment("a-2.m4s", 2.0, 2, key=k2),
            m3u8.Segment("a-3.m4s", 2.0, 3),
        ],
        map_uri="a-init.mp4",
    )
    text = p.render()
    back = m3u8.parse(text)
    assert back.segments == p.segments and back.map_uri == "a-init.mp4" and back.version == 7
    theirs = m3u8_lib.loads(text)
    assert theirs.version == 7 and theirs.segment_map[0].uri == "a-init.mp4"
    assert [s.key.uri if s.key else None for s in theirs.segments] == [
        "k-0.key",
        "k-0.key",
        "https://x/k-2.key",
        None,
    ]
    assert theirs.segments[0].key.iv == "0x" + bytes(range(16)).hex()
