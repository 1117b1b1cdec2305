"""Developer commands that are neither the devstack nor the sidecar (`make migration`)."""
