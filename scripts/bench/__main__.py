"""`python -m scripts.bench [--quick] [--only ...]` (see scripts.bench.main)."""

import sys

from scripts.bench.main import main

sys.exit(main())
