"""Media messages -> FLV tags, for HTTP-FLV players (and later DVR).

:class:`FlvWire` is the wire format the Source shares between HTTP-FLV players: players with the
same header flags and ``drop_if_not_match`` share the encoded tags. The header flags are chosen per
player from what it is about to receive, as SRS's ``SrsFlvStreamEncoder`` does (``guess_has_av``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from srs.format import flv
from srs.media.message import AUDIO, VIDEO, MediaMessage


def guess_av(
    msgs: Sequence[MediaMessage], *, has_audio: bool, has_video: bool, guess: bool
) -> tuple[bool, bool]:
    """SRS ``SrsFlvStreamEncoder::write_tags`` header guess (ossrs/srs#939).

    With ``guess_has_av`` the flags come from the messages: a kind is present if any message of it
    (sequence header included) is there, but if only one kind has real frames the other is
    declared absent.
    """
    if not guess:
        return has_audio, has_video
    has_audio = has_video = False
    n_audio = n_video = 0
    for m in msgs:
        if m.kind == VIDEO:
            has_video = True
            if not m.sequence_header:
                n_video += 1
        elif m.kind == AUDIO:
            has_audio = True
            if not m.sequence_header:
                n_audio += 1
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
