// Configuration read when the server runs (`next start`), not baked in at build time, so one
// production build serves any stack. Only PublicConfig ever reaches the browser: every page,
// static or not, loads /api/runtime-config (pages/api/runtime-config.ts, written per request)
// before Next's own scripts, and the browser reads it here.

export type PublicConfig = {
  supabaseUrl: string;
  supabaseAnonKey: string;
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: the frontend reads it when the server starts a request`);
  }
  return value;
}

/**
 * The key the browser sends: a project's publishable key (`sb_publishable_…`), under the name
 * Supabase uses today, else the legacy anon key's name. Both act as `anon`; RLS does the guarding.
 */
function publishableKey(): string {
  const value = process.env.SUPABASE_PUBLISHABLE_KEY || process.env.SUPABASE_ANON_KEY;
  if (!value) {
    throw new Error(
      "SUPABASE_PUBLISHABLE_KEY is not set (nor the legacy SUPABASE_ANON_KEY): the frontend reads it when the server starts a request",
    );
  }
  return value;
}

/** The Supabase project the browser talks to (URL and publishable key are public by design). */
export function publicConfig(): PublicConfig {
  return {
    supabaseUrl: required("SUPABASE_URL").replace(/\/+$/, ""),
    supabaseAnonKey: publishableKey(),
  };
}

declare global {
  interface Window {
    /** Set by /api/runtime-config, which every page loads before its own scripts. */
    __SHOP_CONFIG__?: PublicConfig;
  }
}

/** The configuration /api/runtime-config handed this page, or null (not in a browser, or it failed to load). */
export function browserConfig(): PublicConfig | null {
  if (typeof window === "undefined") return null;
  const config = window.__SHOP_CONFIG__;
  return config && typeof config.supabaseUrl === "string" && typeof config.supabaseAnonKey === "string" ? config : null;
}

/** The body of /api/runtime-config: one assignment of JSON (valid JavaScript as it stands). */
export function runtimeConfigScript(config: PublicConfig): string {
  return `window.__SHOP_CONFIG__ = ${JSON.stringify(config)};\n`;
}
