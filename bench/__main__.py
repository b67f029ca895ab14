"""``python -m bench``: see ``bench/compare.py``."""

import sys

from bench.compare import main

sys.exit(main())
