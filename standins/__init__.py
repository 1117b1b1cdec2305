"""Offline stand-ins for the hosted services the shop talks to: Stripe (`standins.stripe`) and
Supabase's API gateway, Auth and PostgREST (`standins.supabase`, with `platform.sql`, the roles
and `auth` schema a plain Postgres lacks).

They answer as the real services do, so product code written for the real ones runs against them
unchanged. The direction is one way: `sidecar/` never imports a stand-in, and no stand-in imports
product code (`tests/test_layout.py` checks both).
"""
