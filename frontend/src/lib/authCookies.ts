// The Supabase Auth session cookie, checked before supabase-js reads it. A cookie that does not
// hold a session (a stray value, a truncated chunk, `"user": 5`) would otherwise reach auth-js,
// which throws on some shapes while loading it (in the client's constructor, beyond any
// try/catch of ours): every page would answer 500. Such a cookie is dropped and cleared, and the
// request goes on signed out.
import type { CookieOptions } from "@supabase/ssr";

/** The cookie name supabase-js uses for a project URL (its default `storageKey`). */
export function authStorageKey(supabaseUrl: string): string {
  return `sb-${new URL(supabaseUrl).hostname.split(".")[0]}-auth-token`;
}

/** How every auth cookie is written (the server and the browser alike). */
export function authCookieOptions(https: boolean): CookieOptions {
  // @supabase/ssr writes maxAge itself on every set (400 days): the cookie carries the refresh
  // token, so it must outlive the access token for a session to be refreshed at all.
  return { path: "/", sameSite: "lax", secure: https };
}

type Cookie = { name: string; value: string };

const BASE64_PREFIX = "base64-";

/** The session cookie's text, from one cookie or its `.0`, `.1`, … chunks, as @supabase/ssr writes it. */
function combined(cookies: Cookie[], key: string): string | null {
  const byName = new Map(cookies.map(({ name, value }) => [name, value]));
  const whole = byName.get(key);
  if (whole !== undefined) return whole;
  let text = "";
  for (let i = 0; byName.has(`${key}.${i}`); i += 1) text += byName.get(`${key}.${i}`);
  return text === "" ? null : text;
}

function decoded(raw: string): unknown {
  let text = raw;
  if (raw.startsWith(BASE64_PREFIX)) {
    const encoded = raw.slice(BASE64_PREFIX.length);
    if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return undefined;
    const base64 = encoded.replace(/-/g, "+").replace(/_/g, "/");
    if (base64.length % 4 === 1) return undefined;
    const bytes = Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    text = new TextDecoder().decode(bytes);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The shape supabase-js stores and can load without failing: tokens, expiry and a user object. */
export function isStoredSession(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { access_token, refresh_token, expires_at, user } = value;
  return (
    typeof access_token === "string" &&
    access_token.length > 0 &&
    typeof refresh_token === "string" &&
    typeof expires_at === "number" &&
    Number.isFinite(expires_at) &&
    isObject(user) &&
    typeof user.id === "string"
  );
}

/** Whether `name` is the session cookie or one of its chunks. */
export function isAuthCookie(name: string, key: string): boolean {
  return name === key || (name.startsWith(`${key}.`) && /^\d+$/.test(name.slice(key.length + 1)));
}

/**
 * The request's cookies with a session cookie that does not hold a session taken out, and the
 * names to clear. Cookies that are not the session's pass through untouched.
 */
export function checkedCookies(cookies: Cookie[], key: string): { cookies: Cookie[]; broken: string[] } {
  const raw = combined(cookies, key);
  if (raw === null || isStoredSession(decoded(raw))) return { cookies, broken: [] };
  return {
    cookies: cookies.filter(({ name }) => !isAuthCookie(name, key)),
    broken: cookies.filter(({ name }) => isAuthCookie(name, key)).map(({ name }) => name),
  };
}
