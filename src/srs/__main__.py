"""``python -m srs``: the same as the ``srs`` console script."""

import sys

from srs.cli import main

sys.exit(main())
