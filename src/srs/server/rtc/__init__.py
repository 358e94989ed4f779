"""WebRTC adapters: the UDP/TCP media port, sessions (ICE-lite, DTLS, SRTP), signalling (WHIP/WHEP
and SRS's legacy JSON API) and the players/publishers that join the live Source."""
