"""`make bench`: every benchmark on one throwaway database, ratios printed side by side."""

from __future__ import annotations

import os
import platform
import sys

from bench import purchases, webhooks
from devstack import database


def main() -> int:
    admin_url = os.environ.get("TEST_DATABASE_URL", database.DEFAULT_ADMIN_URL)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print("each comparison alternates A and B in one process; quote the ratios, not the times\n")
    with database.throwaway(admin_url) as url:
        for comparison, ops in purchases.run(url):
            print(comparison.report(ops), end="\n\n", flush=True)
        comparison, latencies = webhooks.run(url)
        print(comparison.report(webhooks.BATCH))
        print("\n".join(latencies), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
