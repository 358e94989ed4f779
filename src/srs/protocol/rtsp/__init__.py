"""RTSP/1.0 (RFC 2326): sans-IO message codec (:mod:`.message`) and SDP for DESCRIBE (:mod:`.sdp`)."""
