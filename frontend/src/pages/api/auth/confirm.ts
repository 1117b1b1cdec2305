// Where the password-reset mail's link lands (supabase/templates/recovery.html): Supabase's PKCE
// flow for server-side rendering. The link's token hash is traded for a session here, on the
// server (verifyOtp), which sets the session cookie; the learner then goes on to `next` (the
// page to choose a new password). A link used already, expired, or otherwise refused goes back
// to /forgot-password, which says what happened and asks for a new link.
import type { IncomingMessage, ServerResponse } from "node:http";

import type { EmailOtpType } from "@supabase/supabase-js";

import { safeNext } from "@/lib/navigation";
import { createServerSupabase } from "@/lib/supabase";

// the only mail this shop sends
const TYPES: readonly EmailOtpType[] = ["recovery"];
// what /forgot-password explains; anything else is "invalid_link"
const KNOWN_ERRORS = new Set(["otp_expired", "user_banned"]);

function redirect(res: ServerResponse, location: string) {
  res.statusCode = 303;
  res.setHeader("Location", location);
  res.setHeader("Cache-Control", "no-store");
  res.end();
}

export default async function confirm(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.statusCode = 405;
    res.setHeader("Allow", "GET, HEAD");
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ error: { code: "method_not_allowed", message: "Open the link from your email." } }));
    return;
  }
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  const tokenHash = query.get("token_hash") ?? "";
  const type = query.get("type") as EmailOtpType | null;
  const next = safeNext(query.get("next"), "/reset-password");
  if (!tokenHash || !type || !TYPES.includes(type)) return redirect(res, "/forgot-password?error=invalid_link");
  try {
    const { error } = await createServerSupabase(req, res).auth.verifyOtp({ type, token_hash: tokenHash });
    if (error) {
      const code = error.code && KNOWN_ERRORS.has(error.code) ? error.code : "invalid_link";
      return redirect(res, `/forgot-password?error=${code}`);
    }
  } catch {
    return redirect(res, "/forgot-password?error=unavailable");
  }
  return redirect(res, next);
}
