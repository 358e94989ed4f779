"""The bytes of HLS segments: MPEG-TS or fMP4 (``hls_use_fmp4``), and AES-128 (``hls_keys``).

A body turns the stream's messages into the current segment's bytes: :meth:`head` when a segment
opens (TS: PAT/PMT), :meth:`add` per message (``None`` when the message is not carried, so it does
not start or extend a segment), :meth:`tail` when it closes (fMP4: the ``moof`` + ``mdat`` of the
segment's samples). fMP4 also has an init segment, written beside the playlist before the first
segment that needs it, and again if the publisher changes its codec configuration.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.remux.fmp4 import Fmp4Remuxer, settle_tracks
from srs.remux.ts import TsRemuxer, settle_stream_types


class TsBody:
    init_needed = False

    def __init__(self, video_type: int | None, audio_type: int | None) -> None:
        self.remuxer = TsRemuxer(video_type, audio_type)

    @property
    def has_video(self) -> bool:
        return self.remuxer.video_type is not None

    def head(self) -> bytes:
        return self.remuxer.tables()

    def add(self, msg: MediaMessage) -> bytes | None:
        return self.remuxer.encode(msg) or None

    def tail(self, end_ms: int | None) -> bytes:
        return b""

    def init_segment(self) -> bytes:
        return b""


class Fmp4Body:
    def __init__(self, video: bool, audio: bool) -> None:
        self.remuxer = Fmp4Remuxer(video, audio)
        self._init_written = False

    @property
    def init_needed(self) -> bool:
        return not self._init_written or self.remuxer.config_changed

    @property
    def has_video(self) -> bool:
        return self.remuxer.has_video

    def head(self) -> bytes:
        return b""

    def add(self, msg: MediaMessage) -> bytes | None:
        r = self.remuxer
        if not r.add(msg):
            return None
        if not r.ready:  # a track's configuration is still missing: nothing can play this sample
            r.flush()
            return None
        return b""

    def tail(self, end_ms: int | None) -> bytes:
        return self.remuxer.flush(end_ms)

    def init_segment(self) -> bytes:
        self._init_written = True
        return self.remuxer.init_segment()


Body = TsBody | Fmp4Body


def settle_body(msgs: Sequence[MediaMessage], fmp4: bool, acodec: str, vcodec: str) -> Body | bool | None:
    """The body for the stream once its codecs are known; None = wait for more messages; False =
    nothing HLS can carry. ``hls_acodec an`` / ``hls_vcodec vn`` leave audio / video out (SRS)."""
    msgs = [
        m
        for m in msgs
        if not (m.kind == AUDIO and acodec == "an") and not (m.kind == VIDEO and vcodec == "vn")
    ]
    if fmp4:
        tracks = settle_tracks(msgs)
        if tracks is None:
            return None
        return Fmp4Body(*tracks) if any(tracks) else False
    types = settle_stream_types(msgs)
    if types is None:
        return None
    return TsBody(*types) if types != (None, None) else False


def new_key() -> tuple[bytes, bytes]:
    """A random AES-128 key and IV, as SRS makes them (RAND_bytes)."""
    return os.urandom(16), os.urandom(16)


def encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-128-CBC with PKCS#7 padding: RFC 8216's METHOD=AES-128 over the whole segment."""
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    """The inverse of :func:`encrypt` (tests, tools)."""
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(dec.update(data) + dec.finalize()) + unpadder.finalize()
