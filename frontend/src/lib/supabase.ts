// Supabase clients typed with the generated schema. The browser client keeps the session in
// cookies (@supabase/ssr), so getServerSideProps and API routes see the same learner through
// the server client. Neither holds a secret: the anon key is public and RLS does the guarding.
import type { IncomingMessage, ServerResponse } from "node:http";

import { createBrowserClient, createServerClient, parseCookieHeader, serializeCookieHeader } from "@supabase/ssr";
import type { SupabaseClient } from "@supabase/supabase-js";

import { publicConfig, type PublicConfig } from "@/lib/config";
import type { Database } from "@/types/database";
import type { ShopUser } from "@/types/shop";

export type ShopClient = SupabaseClient<Database>;

/** The browser's client (one per page load; @supabase/ssr reuses it). */
export function createBrowserSupabase(config: PublicConfig): ShopClient {
  return createBrowserClient<Database>(config.supabaseUrl, config.supabaseAnonKey);
}

/** A client for one server request: reads the session from its cookies, writes refreshed ones. */
export function createServerSupabase(
  req: IncomingMessage,
  res: ServerResponse,
  config: PublicConfig = publicConfig(),
): ShopClient {
  return createServerClient<Database>(config.supabaseUrl, config.supabaseAnonKey, {
    cookies: {
      getAll() {
        return parseCookieHeader(req.headers.cookie ?? "").map(({ name, value }) => ({
          name,
          value: value ?? "",
        }));
      },
      setAll(cookies, headers) {
        if (res.headersSent) return;
        const previous = res.getHeader("Set-Cookie");
        const kept = Array.isArray(previous) ? previous : previous ? [String(previous)] : [];
        res.setHeader("Set-Cookie", [
          ...kept,
          ...cookies.map(({ name, value, options }) => serializeCookieHeader(name, value, options)),
        ]);
        // a response that sets a session must never be cached for someone else
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      },
    },
  });
}

/**
 * The signed-in learner, checked with Supabase Auth (getUser), or null. Never getSession()
 * alone on the server: a cookie is not proof.
 */
export async function currentUser(client: ShopClient): Promise<ShopUser | null> {
  const { data, error } = await client.auth.getUser();
  if (error || !data.user) return null;
  return { id: data.user.id, email: data.user.email ?? null };
}
