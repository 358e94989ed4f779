"""A throw-away self-signed certificate for HTTPS tests, made at test time (never committed).

Uses the ``openssl`` command (Debian's ``openssl`` package, on every machine of this project). The
certificate names ``localhost`` and ``127.0.0.1``, so a client that trusts it (``client_context``)
verifies the server really presents it.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path


def self_signed(directory: Path, name: str = "server", cn: str = "localhost") -> tuple[Path, Path]:
    """``(cert, key)`` PEM files in ``directory`` (``name.crt``, ``name.key``), EC P-256, 2 days."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={cn}",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def client_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only ``cert`` and checks the host name (127.0.0.1 / localhost)."""
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = True
    return ctx


def fingerprint(cert: Path) -> bytes:
    """The DER bytes of a PEM certificate (to compare with what a server presented)."""
    return ssl.PEM_cert_to_DER_cert(cert.read_text())
