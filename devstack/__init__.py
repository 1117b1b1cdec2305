"""`make dev`: the whole shop running offline (private Postgres cluster, the stand-ins, the
sidecar, the Next.js dev server), and the one builder of every database the project touches
(`database`: platform shim, then the Supabase CLI's `db push`)."""
