"""Media messages (FLV tag bodies) -> MPEG-TS: the muxing HLS segments and HTTP-TS players share.

:class:`TsRemuxer` keeps what the TS form needs from the sequence headers (H.264 SPS/PPS, H.265
VPS/SPS/PPS, the AAC AudioSpecificConfig) and turns each coded frame into one PES:

* video: length-prefixed NALUs -> Annex B, an access unit delimiter first, the parameter sets
  before every keyframe (as SRS does, so any segment or late joiner can start decoding there);
  DTS = timestamp, PTS = timestamp + composition time, in 90 kHz;
* AAC: an ADTS header per raw frame; MP3: the frame as it is.

Codecs TS cannot carry here (Speex, PCM, AV1, VP9, Opus for now) are left out. The remuxer must see
the messages in stream order (sequence headers before the frames that need them).
"""

from __future__ import annotations

from collections.abc import Sequence

from srs.codec import aac, h264, h265
from srs.codec.nalu import split_avcc, to_annexb
from srs.format import ts
from srs.format.flv import AudioCodec, VideoCodec, parse_audio, parse_video
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.util.errors import SrsError

H264_AUD = b"\x09\xf0"  # primary_pic_type 7 (any slice type)
H265_AUD = b"\x46\x01\x50"  # AUD_NUT 35, pic_type 2 (any)

_VIDEO_TYPES = {VideoCodec.AVC: ts.StreamType.H264, VideoCodec.HEVC: ts.StreamType.H265}
_AUDIO_TYPES = {AudioCodec.AAC: ts.StreamType.AAC, AudioCodec.MP3: ts.StreamType.MP3}


def stream_types(msgs: Sequence[MediaMessage]) -> tuple[int | None, int | None]:
    """(video, audio) PMT stream types of the codecs in ``msgs`` (None: absent or not carried)."""
    video = audio = None
    for m in msgs:
        if m.kind == VIDEO and video is None:
            video = _VIDEO_TYPES.get(m.codec)  # type: ignore[call-overload]
        elif m.kind == AUDIO and audio is None:
            audio = _AUDIO_TYPES.get(m.codec)  # type: ignore[call-overload]
    return video, audio


WAIT_FOR_BOTH_MS = 1000  # how much media a TS output waits for the other kind to show up


def settle_stream_types(msgs: Sequence[MediaMessage]) -> tuple[int | None, int | None] | None:
    """The PMT's stream types once they are known, else None (wait for more messages).

    A PMT is written once per output (and per segment), so it must not miss a kind that comes a
    little later: MP3 has no sequence header, and audio may start after the first video frames.
    Known = a coded frame of both kinds, or ``WAIT_FOR_BOTH_MS`` of media with one kind only.
    """
    frames = [m for m in msgs if m.is_av and not m.sequence_header]
    if not frames:
        return None
    kinds = {m.kind for m in frames}
    if len(kinds) < 2 and frames[-1].timestamp - frames[0].timestamp < WAIT_FOR_BOTH_MS:
        return None
    return stream_types(msgs)


class TsRemuxer:
    """One output's TS state: codec configs and the muxer (continuity counters)."""

    def __init__(self, video_type: int | None, audio_type: int | None) -> None:
        streams = []
        if video_type is not None:
            streams.append(ts.TsStream(ts.VIDEO_PID, video_type))
        if audio_type is not None:
            streams.append(ts.TsStream(ts.AUDIO_PID, audio_type))
        if not streams:
            raise ValueError("no stream TS can carry")
        self.video_type = video_type
        self.audio_type = audio_type
        self.muxer = ts.TsMuxer(streams)
        self._params: bytes = b""  # Annex B parameter sets, written before keyframes
        self._length_size = 4
        self._asc: aac.AacConfig | None = None

    def tables(self) -> bytes:
        return self.muxer.tables()

    def encode(self, msg: MediaMessage) -> bytes:
        """The TS packets of ``msg``; ``b""`` for sequence headers, metadata and other codecs."""
        try:
            if msg.kind == VIDEO and self.video_type is not None:
                return self._video(msg)
            if msg.kind == AUDIO and self.audio_type is not None:
                return self._audio(msg)
        except (SrsError, ValueError, IndexError):
            return b""  # a frame that does not parse is left out, as the FLV output would carry it
        return b""

    def _video(self, msg: MediaMessage) -> bytes:
        info = parse_video(msg.payload)
        if _VIDEO_TYPES.get(info.codec) != self.video_type:  # type: ignore[arg-type]
            return b""
        data = msg.payload[info.data_offset :]
        if info.is_sequence_header:
            if self.video_type == ts.StreamType.H264:
                avc = h264.parse_avc_config(data)
                self._params = to_annexb([*avc.sps, *avc.pps])
                self._length_size = avc.length_size
            else:
                hevc = h265.parse_hevc_config(data)
                self._params = to_annexb([*hevc.vps, *hevc.sps, *hevc.pps])
                self._length_size = hevc.length_size
            return b""
        if info.packet_type not in (1, 3):  # coded frames (with or without composition time)
            return b""
        nalus = split_avcc(data, self._length_size)
        if self.video_type == ts.StreamType.H264:
            aud, aud_type, nal_type = H264_AUD, 9, h264.nalu_type
        else:
            aud, aud_type, nal_type = H265_AUD, 35, h265.nalu_type
        nalus = [n for n in nalus if n and nal_type(n) != aud_type]
        if not nalus:
            return b""
        body = to_annexb([aud])
        if info.is_keyframe:
            body += self._params
        body += to_annexb(nalus)
        dts = msg.timestamp * 90
        pts = (msg.timestamp + info.composition_time_ms) * 90
        return self.muxer.frame(ts.VIDEO_PID, body, pts, dts, key=info.is_keyframe)

    def _audio(self, msg: MediaMessage) -> bytes:
        info = parse_audio(msg.payload)
        if _AUDIO_TYPES.get(info.codec) != self.audio_type:
            return b""
        data = msg.payload[info.data_offset :]
        if info.codec == AudioCodec.AAC:
            if info.is_sequence_header:
                self._asc = aac.parse_asc(data)
                return b""
            if self._asc is None or not data:
                return b""
            data = aac.build_adts(self._asc, len(data)) + data
        elif not data:
            return b""
        pts = msg.timestamp * 90
        key = self.video_type is None  # audio-only: every frame is a random access point
        return self.muxer.frame(ts.AUDIO_PID, data, pts, key=key)


class TsWire:
    """HTTP-TS players' wire format: one remuxer per (source, stream types), shared by its players.

    The Source keeps one wire object per key, so the remuxer sees every message once, in stream
    order, and all its players get the same packets (continuity counters included). A newcomer
    starts with PAT/PMT (the preamble), then the sequence headers (no output, they set the
    parameter sets) and the GOP from its keyframe, which carries SPS/PPS in Annex B.
    """

    __slots__ = ("key", "preamble", "remuxer")

    def __init__(self, video_type: int | None, audio_type: int | None) -> None:
        self.remuxer = TsRemuxer(video_type, audio_type)
        self.key = ("ts", video_type, audio_type)
        self.preamble = self.remuxer.tables()

    def encode(self, msg: MediaMessage) -> bytes:
        return self.remuxer.encode(msg)
