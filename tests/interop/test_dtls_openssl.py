"""Our DTLS server endpoint against a DTLS client nobody here wrote: ``openssl s_client -dtls1_2``
over real UDP on loopback. The handshake completes, the SRTP profile agrees, and the keying
material OpenSSL exports ("EXTRACTOR-dtls_srtp") is the one our SRTP keys are cut from."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from srs.protocol.rtc.dtls import DtlsEndpoint, generate_certificate

pytestmark = pytest.mark.interop


def serve_once(sock: socket.socket, endpoint: DtlsEndpoint, stop: threading.Event) -> None:
    """A minimal UDP adapter: datagrams to the endpoint, its answers back, its timer honoured."""
    peer = None
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65536)
        except TimeoutError:
            left = endpoint.timeout()
            if peer is not None and left is not None and left <= 0:
                for d in endpoint.on_timeout():
                    sock.sendto(d, peer)
            continue
        for d in endpoint.receive(data):
            sock.sendto(d, peer)


@pytest.mark.parametrize("profile", ["SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM"])
def test_openssl_s_client_handshakes_with_our_server(tmp_path: Path, profile: str) -> None:
    ours = generate_certificate()
    theirs = generate_certificate()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(theirs.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        theirs.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = DtlsEndpoint(ours, "server", theirs.fingerprint)
    server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stop = threading.Event()
    t = threading.Thread(target=serve_once, args=(sock, server, stop), daemon=True)
    t.start()
    key_len, salt_len = (16, 14) if profile.endswith("SHA1_80") else (16, 12)
    try:
        client = subprocess.Popen(
            [
                *("openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}"),
                *("-use_srtp", profile, "-cert", str(cert), "-key", str(key)),
                *("-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", str(2 * (key_len + salt_len))),
                "-no_ign_eof",  # end when stdin does
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while not server.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connected, "no handshake with openssl s_client"
        out, _ = client.communicate(input=b"", timeout=15)
    finally:
        stop.set()
        t.join(2)
        sock.close()
    text = out.decode(errors="replace")
    assert f"SRTP Extension negotiated, profile={profile}" in text, text
    material = bytes.fromhex(text.split("Keying material: ", 1)[1].split()[0])
    assert server.keys is not None and server.keys.profile == profile
    client_key, server_key = material[:key_len], material[key_len : 2 * key_len]
    client_salt = material[2 * key_len : 2 * key_len + salt_len]
    server_salt = material[2 * key_len + salt_len :]
    assert server.keys.local_key == server_key + server_salt  # we are the DTLS server
    assert server.keys.remote_key == client_key + client_salt
