"""What a new segmenter takes over from the one it replaces (a reload or a republish changed the
stream's ``hls`` / ``dash`` config).

SRS keeps one HLS muxer per stream and reloads it in place (``SrsHls::do_reload``: unpublish, then
publish with the new config), so its sequence numbers go on. We build a new segmenter from the new
config and hand it, after the old one ended its current segment (``on_unpublish``), what makes the
output continuous:

- HLS: the next sequence number, the next segment marked ``EXT-X-DISCONTINUITY``, and the playlist
  window (when the playlist stays at the same path and the segment kind, TS or fMP4, is the same);
  the old segments then leave with the new window (``hls_window``, ``hls_cleanup``).
- DASH: the next fragment numbers, and the old fragments (when they stay in the same directory;
  an MPD at another name is removed with them), removed at the new segmenter's first fragment
  (``dash_cleanup``) as after a republish.

When the files do not move over (another ``hls_path`` / ``hls_m3u8_file`` / ``dash_path``, or HLS
switching between TS and fMP4), :func:`carry_over` says so and the caller disposes of the old files
like after an unpublish (``hls_dispose`` / ``dash_dispose``; never with 0, as SRS), sparing the
files the new segmenter writes under the same names (:func:`owned`).

This reads the segmenters' internals (``srs.remux`` is sans-IO and has no public hand-over); a
segmenter without them (renamed) starts afresh at 0 and the caller logs it: the unit tests in
``tests/unit/output/test_carry.py`` catch such a rename.
"""

from __future__ import annotations

import os
from typing import Any

from srs.remux.dash import DashSegmenter
from srs.remux.hls import HlsSegmenter

__all__ = ["carry_over", "owned"]

_HLS = ("_next_seq", "_discontinuity", "_window")
_DASH = ("_numbers", "_old")


def _has(seg: object, names: tuple[str, ...]) -> bool:
    return all(hasattr(seg, n) for n in names)


def carry_over(old: Any, new: Any) -> tuple[bool, bool]:
    """Hand ``old``'s continuation to ``new`` (``old`` has ended its current segment).

    Returns ``(continued, files_moved)``: whether the numbering goes on, and whether the old
    files now belong to ``new`` (otherwise the caller disposes of them)."""
    if isinstance(old, HlsSegmenter) and isinstance(new, HlsSegmenter):
        if not (_has(old, _HLS) and _has(new, _HLS)):
            return False, False
        new._next_seq = old._next_seq
        new._discontinuity = True
        same = new.m3u8_path == old.m3u8_path and new.cfg.use_fmp4 == old.cfg.use_fmp4
        if same:
            new._window, old._window = old._window, []
        return True, same
    if isinstance(old, DashSegmenter) and isinstance(new, DashSegmenter):
        if not (_has(old, _DASH) and _has(new, _DASH)):
            return False, False
        new._numbers = dict(old._numbers)
        same = new.home == old.home
        if same:
            new._old, old._old = old._old, []
            if new.mpd_path != old.mpd_path:
                new._old.append(old.mpd_path)
        return True, same
    return False, False


def owned(seg: Any) -> frozenset[str]:
    """The fixed-name files ``seg`` writes (its playlist or MPD and init segments)."""
    if isinstance(seg, HlsSegmenter):
        return frozenset((seg.m3u8_path, seg.init_path))
    if isinstance(seg, DashSegmenter):
        return frozenset(
            (seg.mpd_path, *(os.path.join(seg.home, f"{k}-init.mp4") for k in ("video", "audio")))
        )
    return frozenset()
