// Where Auth's mailed links land: the password reset (supabase/templates/recovery.html) and the
// change of email (email_change.html). Supabase's PKCE flow for server-side rendering: the
// link's token hash is traded here, on the server (verifyOtp), which sets the session cookie;
// the learner then goes on to `next` (the page to choose a new password, or /account). A reset
// link used already, expired, or otherwise refused goes back to /forgot-password, which says
// what happened and asks for a new link; an email change link goes back to /account, which
// says whether the change is made, waits for the other address's link, or failed.
import type { IncomingMessage, ServerResponse } from "node:http";

import type { EmailOtpType } from "@supabase/supabase-js";

import { safeNext } from "@/lib/navigation";
import { createServerSupabase } from "@/lib/supabase";

// the mails this shop sends
const TYPES: readonly EmailOtpType[] = ["recovery", "email_change"];
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
  if (type === "email_change") return confirmEmailChange(req, res, tokenHash);
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

// With secure email change (config.toml's double_confirm_changes) Auth mails a link to both
// addresses: the first one opened is accepted without a session (`confirmed_one`), the second
// makes the change and signs the learner in with the new address (`done`).
async function confirmEmailChange(req: IncomingMessage, res: ServerResponse, tokenHash: string): Promise<void> {
  if (!tokenHash) return redirect(res, "/account?email_change=invalid_link");
  try {
    const { data, error } = await createServerSupabase(req, res).auth.verifyOtp({
      type: "email_change",
      token_hash: tokenHash,
    });
    if (error) {
      const code = error.code && KNOWN_ERRORS.has(error.code) ? error.code : "invalid_link";
      return redirect(res, `/account?email_change=${code}`);
    }
    return redirect(res, `/account?email_change=${data.session ? "done" : "confirmed_one"}`);
  } catch {
    return redirect(res, "/account?email_change=unavailable");
  }
}
