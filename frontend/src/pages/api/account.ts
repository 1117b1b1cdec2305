// DELETE {"confirm"}: the signed-in learner deletes their own account. Only this site's pages
// may call it, as JSON; the learner comes from their cookie session checked by Supabase Auth
// itself (getUser: a banned or deleted user is refused), and must confirm with their email or
// the word "delete". Then Auth deletes the user with the secret key (lib/accountDeletion.ts)
// and the session cookies are cleared. Payments stay, anonymised (ARCHITECTURE.md, "Deleting an
// account"); nothing is asked of Stripe (the Stripe customer is kept).
import type { IncomingMessage, ServerResponse } from "node:http";

import { acceptsOwnJson, fail } from "@/lib/apiAnswer";
import { deleteAuthUser } from "@/lib/accountDeletion";
import { deletionConfirmed } from "@/lib/accountPolicy";
import { createServerSupabase } from "@/lib/supabase";

// the body is read here, bounded, so the route is the same behind any Node server
export const config = { api: { bodyParser: false } };

const MAX_BODY_BYTES = 2048;

/** The `confirm` word of a `{"confirm": "…"}` body of at most 2 KiB, or null. */
async function readConfirm(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const confirm = typeof body === "object" && body !== null ? (body as Record<string, unknown>).confirm : null;
    return typeof confirm === "string" ? confirm : null;
  } catch {
    return null;
  }
}

export default async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!acceptsOwnJson(req, res, "DELETE")) return;
  const confirm = await readConfirm(req);
  if (confirm === null) {
    fail(res, 422, "invalid_body", 'Send {"confirm": your email or "delete"}.');
    return;
  }
  const supabase = createServerSupabase(req, res);
  let user: { id: string; email?: string } | null = null;
  try {
    const { data, error } = await supabase.auth.getUser();
    if (!error) user = data.user;
  } catch {
    fail(res, 503, "auth_unavailable", "We couldn't reach the sign-in service. Please try again in a moment.");
    return;
  }
  if (!user) {
    fail(res, 401, "not_signed_in", "Sign in to delete your account.");
    return;
  }
  if (!deletionConfirmed(confirm, user.email ?? null)) {
    fail(res, 422, "not_confirmed", 'Type your email or the word "delete" to confirm.');
    return;
  }
  const deleted = await deleteAuthUser(user.id);
  if (!deleted.ok) {
    console.error("account deletion failed", deleted.reason, deleted.detail);
    fail(
      res,
      503,
      "deletion_unavailable",
      "We couldn't delete your account just now. Nothing was deleted; please try again.",
    );
    return;
  }
  // the user and their sessions are gone; this clears the cookies (supabase-js treats Auth's
  // 403 user_not_found as signed out)
  await supabase.auth.signOut({ scope: "local" }).catch(() => undefined);
  res.statusCode = 204;
  res.setHeader("Cache-Control", "private, no-store");
  res.end();
}
