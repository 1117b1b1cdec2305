// Configuration read when the server runs (`next start`), not baked in at build time, so one
// production build serves any stack. Only PublicConfig ever reaches the browser.

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

/** The Supabase project the browser talks to (URL and anon key are public by design). */
export function publicConfig(): PublicConfig {
  return {
    supabaseUrl: required("SUPABASE_URL").replace(/\/+$/, ""),
    supabaseAnonKey: required("SUPABASE_ANON_KEY"),
  };
}
