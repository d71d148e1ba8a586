"""``python -m bluesky_timelapse.cli``."""

import sys

from . import main

sys.exit(main())
