"""The project's own tooling: the `make test` runner (`check`), the browser-test driver (`e2e`),
the frontend's generated types (`typegen`) and the Docker-only paths (`containers`)."""
