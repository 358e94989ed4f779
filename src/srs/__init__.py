"""srs: SRS (Simple Realtime Server) re-made in Python."""

from __future__ import annotations

VERSION_MAJOR = 7
VERSION_MINOR = 0
VERSION_REVISION = 18
VERSION = f"{VERSION_MAJOR}.{VERSION_MINOR}.{VERSION_REVISION}"
CODE_NAME = "Hang"
SIGNATURE = f"SRS/{VERSION}({CODE_NAME})"
KEY = "SRS"
LICENSE = "MIT"
URL = "https://github.com/ossrs/srs"
AUTHORS = "https://github.com/ossrs/srs/blob/develop/trunk/AUTHORS.md#contributors"

__version__ = VERSION
