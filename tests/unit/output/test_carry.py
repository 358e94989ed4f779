"""What a reloaded (or republished) stream's new segmenter takes over from the old one: HLS
sequence numbers with a discontinuity and the playlist window, DASH fragment numbers and the old
fragments; files that do not move over are left to the old segmenter's dispose."""

from __future__ import annotations

from dataclasses import replace

import pytest

from srs.config.schema_vhost import DashConfig, HlsConfig
from srs.format import m3u8
from srs.media.message import MediaMessage
from srs.output.carry import carry_over, owned
from srs.remux.dash import DashSegmenter
from srs.remux.hls import Action, HlsSegmenter, RemoveFile, WriteFile
from srs.remux.rtmp import media_from_rtmp
from support.media import clip
from support.rtmp_client import flv_tags

MSGS = [
    m for m in (media_from_rtmp(int(t.tag_type), t.timestamp, t.body) for t in flv_tags(clip("bbb.flv"))) if m
]
HLS = HlsConfig(enabled=True, fragment_s=2.0, window_s=60.0, path="/hls")
DASH = DashConfig(enabled=True, fragment_s=2.0, path="/dash")
NOW = 1_700_000_000_000


def run(seg: HlsSegmenter | DashSegmenter, msgs: list[MediaMessage], offset_ms: int = 0) -> list[Action]:
    out: list[Action] = []
    for m in msgs:
        out += seg.on_message(m.with_timestamp(m.timestamp + offset_ms), NOW)
    return out


def hls(cfg: HlsConfig) -> HlsSegmenter:
    return HlsSegmenter(cfg, vhost="v", app="live", stream="s")


def dash(cfg: DashConfig) -> DashSegmenter:
    return DashSegmenter(cfg, vhost="v", app="live", stream="s")


def last_playlist(actions: list[Action], path: str) -> m3u8.MediaPlaylist:
    [*_, w] = [a for a in actions if isinstance(a, WriteFile) and a.path == path]
    return m3u8.parse(w.data.decode())


@pytest.mark.parametrize(
    ("change", "moved"),
    [
        ({"fragment_s": 1.0}, True),  # a new fragment length: one playlist goes on
        ({"entry_prefix": "http://cdn/hls"}, True),
        ({"cleanup": False}, True),
        ({"path": "/other"}, False),  # the playlist moves: the old files stay with the old one
        ({"m3u8_file": "[app]/[stream]-x.m3u8"}, False),
        ({"use_fmp4": True}, False),  # TS and fMP4 segments never share a playlist
    ],
)
def test_hls_sequence_goes_on_after_a_discontinuity(change: dict[str, object], moved: bool) -> None:
    old = hls(HLS)
    first = run(old, MSGS) + old.on_unpublish(NOW)
    n = len(last_playlist(first, old.m3u8_path).segments)
    new = hls(replace(HLS, **change))  # type: ignore[arg-type]
    assert carry_over(old, new) == (True, moved)
    after = run(new, MSGS, offset_ms=20_000) + new.on_unpublish(NOW)
    playlist = last_playlist(after, new.m3u8_path)
    seqs = [s.sequence for s in playlist.segments]
    if moved:
        assert seqs[: n + 1] == list(range(n + 1))  # the old segments, then the new ones
        # The old one has no segments left: its dispose would only touch the new one's files.
        assert {a.path for a in old.dispose() if isinstance(a, RemoveFile)} <= owned(new)
    else:
        assert seqs[0] == n  # the numbering goes on in the new playlist
        assert {a.path for a in old.dispose() if isinstance(a, RemoveFile)} >= {old.m3u8_path}
    assert [s.sequence for s in playlist.segments if s.discontinuity] == [n]


def test_hls_the_new_window_trims_the_carried_segments() -> None:
    old = hls(HLS)
    run(old, MSGS)
    old.on_unpublish(NOW)
    new = hls(replace(HLS, window_s=4.0))
    carry_over(old, new)
    after = run(new, MSGS, offset_ms=20_000)
    removed = [a.path for a in after if isinstance(a, RemoveFile)]
    assert "/hls/live/s-0.ts" in removed  # an old segment left with the new, shorter window


@pytest.mark.parametrize(
    ("change", "moved", "old_mpd_removed"),
    [
        ({"fragment_s": 1.0}, True, False),
        ({"mpd_file": "[app]/[stream]-x.mpd"}, True, True),  # same directory: fragments stay
        ({"path": "/other"}, False, False),
    ],
)
def test_dash_numbers_go_on(change: dict[str, object], moved: bool, old_mpd_removed: bool) -> None:
    old = dash(DASH)
    first = run(old, MSGS) + old.on_unpublish(NOW)
    numbers = dict(old._numbers)
    assert numbers["video"] > 0
    new = dash(replace(DASH, **change))  # type: ignore[arg-type]
    assert carry_over(old, new) == (True, moved)
    after = run(new, MSGS, offset_ms=20_000)
    m4s = [a.path for a in after if isinstance(a, WriteFile) and a.path.endswith(".m4s")]
    assert m4s[0].endswith(f"video-{numbers['video']}.m4s") or m4s[0].endswith(
        f"audio-{numbers['audio']}.m4s"
    )
    removed = {a.path for a in after if isinstance(a, RemoveFile)}
    old_fragments = {a.path for a in first if isinstance(a, WriteFile) and a.path.endswith(".m4s")}
    if moved:
        assert removed >= old_fragments - {a.path for a in first if isinstance(a, RemoveFile)}
        assert (old.mpd_path in removed) == old_mpd_removed
    else:
        assert not removed & old_fragments
        assert {a.path for a in old.dispose() if isinstance(a, RemoveFile)} >= old_fragments - {
            a.path for a in first if isinstance(a, RemoveFile)
        }


def test_other_kinds_start_again() -> None:
    assert carry_over(hls(HLS), dash(DASH)) == (False, False)
    assert carry_over(object(), object()) == (False, False)


def test_owned_files() -> None:
    h = hls(HLS)
    assert owned(h) == {h.m3u8_path, h.init_path} and h.m3u8_path == "/hls/live/s.m3u8"
    d = dash(DASH)
    assert owned(d) == {d.mpd_path, f"{d.home}/video-init.mp4", f"{d.home}/audio-init.mp4"}
    assert owned(object()) == frozenset()
