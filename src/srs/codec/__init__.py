"""Elementary streams (layer L1): what the server reads from codec bitstreams, never decoding.

* :mod:`srs.codec.nalu` - AVCC / Annex B framing and emulation prevention, shared by H.264 and H.265.
* :mod:`srs.codec.h264` - NAL unit types, avcC, SPS (resolution/profile/level), slice types, B-frames.
* :mod:`srs.codec.h265` - the same for HEVC: hvcC, SPS/PPS, IRAP key frames, slice types.
* :mod:`srs.codec.aac` - AudioSpecificConfig and ADTS.
* :mod:`srs.codec.mp3` - MPEG audio frame headers.

Every parser raises only :class:`srs.util.errors.ParseError` on bad input.
"""
