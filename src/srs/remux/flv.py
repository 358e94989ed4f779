"""Media messages -> FLV tags, for HTTP-FLV players (and later DVR).

:class:`FlvWire` is the wire format the Source shares between HTTP-FLV players: players with the
same header flags and ``drop_if_not_match`` share the encoded tags. The header flags are chosen per
player from what it is about to receive, as SRS's ``SrsFlvStreamEncoder`` does (``guess_has_av``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from srs.format import flv
from srs.media.message import AUDIO, VIDEO, MediaMessage

GUESS_WAIT_MS = 1000  # how much media a newcomer may wait for the first frames of a kind


def guess_av(
    msgs: Sequence[MediaMessage], *, has_audio: bool, has_video: bool, guess: bool
) -> tuple[bool, bool] | None:
    """The FLV header flags for a player's first messages; ``None`` to wait for more.

    SRS ``SrsFlvStreamEncoder::write_tags`` (ossrs/srs#939): with ``guess_has_av`` a kind is
    present if any message of it (sequence header included) is there, but if only one kind has
    real frames the other is declared absent. SRS sees at least one merged write (~350 ms) of
    media first; our newcomers are served at once, and a GOP cache holding just a keyframe has no
    audio frames yet. So while a kind has a sequence header but no frames, we wait for up to
    ``GUESS_WAIT_MS`` of media before applying SRS's rule.
    """
    if not guess:
        return has_audio, has_video
    has_audio = has_video = False
    n_audio = n_video = 0
    first_ts = last_ts = None
    for m in msgs:
        if m.kind == VIDEO:
            has_video = True
            if not m.sequence_header:
                n_video += 1
        elif m.kind == AUDIO:
            has_audio = True
            if not m.sequence_header:
                n_audio += 1
        else:
            continue
        if not m.sequence_header:
            first_ts = m.timestamp if first_ts is None else first_ts
            last_ts = m.timestamp
    waiting = (has_audio and n_audio == 0) or (has_video and n_video == 0)
    span = (last_ts - first_ts) if first_ts is not None and last_ts is not None else 0
    if waiting and (n_audio or n_video) and span < GUESS_WAIT_MS:
        return None
    if n_video > 0 and n_audio == 0:
        has_audio = False
    if n_video == 0 and n_audio > 0:
        has_video = False
    return has_audio, has_video


class FlvWire:
    """FLV tags; with ``drop_if_not_match`` a kind the header declared absent is left out."""

    __slots__ = ("drop_audio", "drop_video", "has_audio", "has_video", "key", "preamble")

    def __init__(self, has_audio: bool, has_video: bool, drop_if_not_match: bool) -> None:
        self.has_audio = has_audio
        self.has_video = has_video
        self.drop_audio = drop_if_not_match and not has_audio
        self.drop_video = drop_if_not_match and not has_video
        self.key: Hashable = ("flv", self.drop_audio, self.drop_video)
        self.preamble = flv.header(has_audio, has_video)

    def encode(self, msg: MediaMessage) -> bytes:
        kind = msg.kind
        if (kind == AUDIO and self.drop_audio) or (kind == VIDEO and self.drop_video):
            return b""
        return flv.encode_tag(kind, msg.timestamp, msg.payload)
