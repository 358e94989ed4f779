"""SRT (MPEG-TS over SRT), sans-IO: the streamid grammar (issue 11)."""
