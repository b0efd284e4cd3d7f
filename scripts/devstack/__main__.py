"""`python -m scripts.devstack up|down|status ...` (see scripts.devstack.cli)."""

from scripts.devstack.cli import main

raise SystemExit(main())
