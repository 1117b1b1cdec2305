// What the browser loads on demand: only the browser client of "@/lib/supabase", so the
// server client's code stays out of the browser's chunks.
export { createBrowserSupabase } from "@/lib/supabase";
