"""RTMP messages <-> media messages.

Ingest classifies each RTMP audio/video message once (keyframe, sequence header, codec) so that
the live core never looks inside payloads again; metadata is rewritten the way SRS does it.
Egress turns a media message into RTMP chunks for a chunk size: :class:`RtmpWire` is the wire
format whose bytes the Source shares between all RTMP players using that chunk size.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from srs import SIGNATURE, VERSION
from srs.format import amf0, flv
from srs.media.message import AUDIO, DATA, VIDEO, MediaMessage
from srs.protocol.rtmp.chunk import encode_message
from srs.protocol.rtmp.message import media_csid
from srs.util.errors import ParseError

PLAY_STREAM_ID = 1  # SRS sends media to players on message stream 1

_AUDIO_CSID = media_csid(AUDIO)
_VIDEO_CSID = media_csid(VIDEO)
_DATA_CSID = media_csid(DATA)


def media_from_rtmp(msg_type: int, timestamp: int, payload: bytes) -> MediaMessage | None:
    """Classify an RTMP audio/video message; ``None`` when it carries nothing to forward."""
    if not payload or (msg_type != VIDEO and msg_type != AUDIO):
        return None
    codec: int | None
    try:
        if msg_type == VIDEO:
            v = flv.parse_video(payload)
            keyframe, sequence_header, codec = v.is_keyframe, v.is_sequence_header, v.codec
        else:
            a = flv.parse_audio(payload)
            keyframe, sequence_header, codec = False, a.is_sequence_header, a.codec
    except ParseError:
        # Unknown or truncated: forwarded as-is (SRS forwards what it cannot parse), but it can
        # neither start a GOP nor be taken for a sequence header.
        return MediaMessage(msg_type, timestamp, payload)
    return MediaMessage(
        msg_type,
        timestamp,
        payload,
        keyframe=keyframe,
        sequence_header=sequence_header,
        codec=int(codec) if codec is not None else 0,
    )


def metadata_from_values(timestamp: int, values: list[Any]) -> tuple[MediaMessage, bool] | None:
    """SRS ``SrsLiveSource::on_meta_data``: drop ``duration``, add ``server``/``server_version``.

    Returns the rewritten ``onMetaData`` message (AMF0 object, as SRS re-encodes it) and whether
    the publisher asked for ATC (``bravo_atc: "true"``), or ``None`` when there is no object.
    """
    obj = next((v for v in values if isinstance(v, dict)), None)
    if obj is None:
        return None
    props = {str(k): v for k, v in obj.items() if k != "duration"}
    props["server"] = SIGNATURE
    props["server_version"] = VERSION
    bravo_atc = str(obj.get("bravo_atc", "")) == "true"
    payload = amf0.encode("onMetaData", props)
    return MediaMessage(DATA, timestamp, payload), bravo_atc


class RtmpWire:
    """RTMP chunks (fmt0 + fmt3, message stream 1) for one output chunk size."""

    __slots__ = ("chunk_size", "key")

    preamble = b""

    def __init__(self, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.key: Hashable = ("rtmp", chunk_size)

    def encode(self, msg: MediaMessage) -> bytes:
        kind = msg.kind
        csid = _VIDEO_CSID if kind == VIDEO else _AUDIO_CSID if kind == AUDIO else _DATA_CSID
        return encode_message(csid, msg.timestamp, kind, PLAY_STREAM_ID, msg.payload, self.chunk_size)
