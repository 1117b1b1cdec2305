import { afterEach, describe, expect, it } from "vitest";

import { publicConfig } from "@/lib/config";

const saved = { ...process.env };

afterEach(() => {
  process.env = { ...saved };
});

describe("publicConfig", () => {
  it("prefers the publishable key, Supabase's name today", () => {
    process.env.SUPABASE_URL = "http://127.0.0.1:54321/";
    process.env.SUPABASE_PUBLISHABLE_KEY = "sb_publishable_new";
    process.env.SUPABASE_ANON_KEY = "legacy-anon-jwt";
    expect(publicConfig()).toEqual({ supabaseUrl: "http://127.0.0.1:54321", supabaseAnonKey: "sb_publishable_new" });
  });

  it("still reads the legacy anon key's name", () => {
    process.env.SUPABASE_URL = "http://127.0.0.1:54321";
    delete process.env.SUPABASE_PUBLISHABLE_KEY;
    process.env.SUPABASE_ANON_KEY = "legacy-anon-jwt";
    expect(publicConfig().supabaseAnonKey).toBe("legacy-anon-jwt");
  });

  it("says which setting is missing", () => {
    process.env.SUPABASE_URL = "http://127.0.0.1:54321";
    delete process.env.SUPABASE_PUBLISHABLE_KEY;
    delete process.env.SUPABASE_ANON_KEY;
    expect(() => publicConfig()).toThrow(/SUPABASE_PUBLISHABLE_KEY is not set/);
  });
});
