"""An offline stand-in for the Supabase API gateway: GoTrue at /auth/v1, PostgREST at /rest/v1.

Only what this project calls, over the real database, so the official supabase clients talk
to it unchanged. See README.md for what it implements and what it leaves out.
"""
