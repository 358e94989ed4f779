"""protocol/rtmp."""
