"""The SRT server: libsrt through ctypes, MPEG-TS publishers and players (issue 11)."""
