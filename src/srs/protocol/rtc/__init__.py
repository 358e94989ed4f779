"""WebRTC, sans-IO: ICE-lite (STUN), RTP/RTCP, SDP, payload formats (issue 10)."""
