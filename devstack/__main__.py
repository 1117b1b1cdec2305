"""`python -m devstack up`: the same as `make dev`."""

from devstack.cli import main

raise SystemExit(main())
