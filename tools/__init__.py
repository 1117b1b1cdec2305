"""The project's own tooling: the `make test` runner (`check`), the browser-test driver (`e2e`),
the frontend's generated types (`typegen`, `sidecar_types`, sharing
`generated`'s check-or-write), `supabase/schemas` against the
migrations and `make migration` (`schemas`), and the Docker-only paths (`containers`)."""
