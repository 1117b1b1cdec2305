// Supabase clients typed with the generated schema. The browser client keeps the session in
// cookies (@supabase/ssr), so getServerSideProps and API routes see the same learner through
// the server client. Neither holds a secret: the anon key is public and RLS does the guarding.
import type { IncomingMessage, ServerResponse } from "node:http";

import { createBrowserClient, createServerClient, parseCookieHeader, serializeCookieHeader } from "@supabase/ssr";
import type { SupabaseClient } from "@supabase/supabase-js";

import { authCookieOptions, authStorageKey, checkedCookies } from "@/lib/authCookies";
import { publicConfig, type PublicConfig } from "@/lib/config";
import { servedOverHttps } from "@/lib/site";
import type { Database } from "@/types/database";
import type { ShopUser } from "@/types/shop";

export type ShopClient = SupabaseClient<Database>;

/** The browser's client (one per page load; @supabase/ssr reuses it). */
export function createBrowserSupabase(config: PublicConfig): ShopClient {
  return createBrowserClient<Database>(config.supabaseUrl, config.supabaseAnonKey, {
    cookieOptions: authCookieOptions(window.location.protocol === "https:"),
  });
}

function appendSetCookie(res: ServerResponse, cookies: string[]) {
  if (res.headersSent || cookies.length === 0) return;
  const previous = res.getHeader("Set-Cookie");
  const kept = Array.isArray(previous) ? previous : previous ? [String(previous)] : [];
  res.setHeader("Set-Cookie", [...kept, ...cookies]);
}

/** A client for one server request: reads the session from its cookies, writes refreshed ones. */
export function createServerSupabase(
  req: IncomingMessage,
  res: ServerResponse,
  config: PublicConfig = publicConfig(),
): ShopClient {
  const cookieOptions = authCookieOptions(
    servedOverHttps(req.headers, Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted)),
  );
  // A session cookie that holds no session is cleared now and never reaches supabase-js.
  const parsed = parseCookieHeader(req.headers.cookie ?? "").map(({ name, value }) => ({ name, value: value ?? "" }));
  const { cookies: readable, broken } = checkedCookies(parsed, authStorageKey(config.supabaseUrl));
  if (broken.length > 0) {
    appendSetCookie(
      res,
      broken.map((name) => serializeCookieHeader(name, "", { ...cookieOptions, maxAge: 0 })),
    );
    res.setHeader("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0");
  }
  return createServerClient<Database>(config.supabaseUrl, config.supabaseAnonKey, {
    cookieOptions,
    cookies: {
      getAll() {
        return readable;
      },
      setAll(cookies, headers) {
        if (res.headersSent) return;
        appendSetCookie(
          res,
          cookies.map(({ name, value, options }) => serializeCookieHeader(name, value, options)),
        );
        // a response that sets a session must never be cached for someone else
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      },
    },
  });
}

/**
 * The signed-in learner from their verified access token (getClaims: checked locally against
 * the project's JWKS for asymmetric keys, by Supabase Auth for HS256 ones), or null. Never
 * getSession() alone on the server: a cookie is not proof. Pages need only who it is; whatever
 * Auth must answer itself (the API route, before money moves) asks with getUser().
 */
export async function currentUser(client: ShopClient): Promise<ShopUser | null> {
  try {
    const { data, error } = await client.auth.getClaims();
    const claims = data?.claims;
    if (error || !claims || typeof claims.sub !== "string" || claims.sub === "") return null;
    return { id: claims.sub, email: typeof claims.email === "string" ? claims.email : null };
  } catch {
    return null; // a session supabase-js cannot read is no session
  }
}
