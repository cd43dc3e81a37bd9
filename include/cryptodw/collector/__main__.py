"""``python -m include.cryptodw.collector --help``."""

import sys

from include.cryptodw.collector.command import main

sys.exit(main())
