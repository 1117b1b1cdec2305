// Deleting a learner's account: Supabase Auth's admin API (`auth.admin.deleteUser`), the only
// supported way on hosted Supabase, which needs the project's secret key. Server side only:
// imported by the API route alone (pages/api/account.ts), never by a page, so the key never
// reaches a browser bundle. The database decides what stays (supabase/schemas/purchases.sql:
// payments are kept, naming nobody; access and reading progress go with the user).
import { createClient } from "@supabase/supabase-js";

import { publicConfig } from "@/lib/config";

export type Deletion =
  { ok: true } | { ok: false; reason: "not_configured" | "refused" | "unreachable"; detail: string };

/** The secret key (`sb_secret_…`), or the legacy service_role key's name; null when unset. */
function secretKey(): string | null {
  return process.env.SUPABASE_SECRET_KEY || process.env.SUPABASE_SERVICE_ROLE_KEY || null;
}

/** Delete the Auth user `userId` (its sessions go with it). */
export async function deleteAuthUser(userId: string): Promise<Deletion> {
  const key = secretKey();
  if (!key) return { ok: false, reason: "not_configured", detail: "SUPABASE_SECRET_KEY is not set" };
  const admin = createClient(publicConfig().supabaseUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  try {
    const { error } = await admin.auth.admin.deleteUser(userId);
    if (!error) return { ok: true };
    return {
      ok: false,
      reason: error.status && error.status < 500 ? "refused" : "unreachable",
      detail: `${error.status} ${error.code ?? ""} ${error.message}`,
    };
  } catch (thrown) {
    return { ok: false, reason: "unreachable", detail: String(thrown) };
  }
}
