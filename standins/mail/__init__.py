"""A mail outbox like the Supabase CLI's local stack (Mailpit on port 54324): messages in,
Mailpit's JSON API and a small HTML list out."""
