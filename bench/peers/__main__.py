"""`uv run python -m bench.peers [--quick]`: see bench/peers/__init__.py."""

import sys

from bench.peers import main

sys.exit(main())
