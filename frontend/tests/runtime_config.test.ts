// /api/runtime-config (pages/api/runtime-config.ts): the browser's Supabase settings, read from
// the environment on each request (so one build serves any project), as a script no one caches
// or sniffs, and nothing but the public pair.
import { createServer, type Server } from "node:http";
import { runInNewContext } from "node:vm";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { browserConfig, runtimeConfigScript } from "@/lib/config";
import handler from "@/pages/api/runtime-config";

const saved = { ...process.env };
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/runtime-config`;
});

afterAll(async () => {
  process.env = saved;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  process.env = { ...saved, SUPABASE_SECRET_KEY: "sb_secret_never_sent", SIDECAR_URL: "http://127.0.0.1:8000" };
});

function run(script: string): unknown {
  const window: { __SHOP_CONFIG__?: unknown } = {};
  runInNewContext(script, { window });
  return window.__SHOP_CONFIG__;
}

describe("/api/runtime-config", () => {
  it("hands the browser the project the server is configured with now", async () => {
    process.env.SUPABASE_URL = "https://one.supabase.co/";
    process.env.SUPABASE_PUBLISHABLE_KEY = "sb_publishable_one";
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/javascript; charset=utf-8");
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.headers.get("x-content-type-options")).toBe("nosniff");
    const script = await first.text();
    expect(run(script)).toEqual({ supabaseUrl: "https://one.supabase.co", supabaseAnonKey: "sb_publishable_one" });
    expect(script).not.toContain("sb_secret");
    expect(script).not.toContain("8000");

    // the same server, another project: the next page load sees it
    process.env.SUPABASE_URL = "https://two.supabase.co";
    process.env.SUPABASE_PUBLISHABLE_KEY = "sb_publishable_two";
    expect(run(await (await fetch(url)).text())).toEqual({
      supabaseUrl: "https://two.supabase.co",
      supabaseAnonKey: "sb_publishable_two",
    });
  });

  it("answers GET and HEAD only", async () => {
    process.env.SUPABASE_URL = "https://one.supabase.co";
    process.env.SUPABASE_PUBLISHABLE_KEY = "sb_publishable_one";
    const post = await fetch(url, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("without the settings, fails as a script that sets nothing (sign-in then says it is unavailable)", async () => {
    delete process.env.SUPABASE_URL;
    const answer = await fetch(url);
    expect(answer.status).toBe(500);
    expect(run(await answer.text())).toBeUndefined();
  });

  it("keeps a value that would end a string or a script inert", () => {
    const config = { supabaseUrl: 'https://x.supabase.co/"</script>', supabaseAnonKey: "k\u2028';alert(1)//" };
    expect(run(runtimeConfigScript(config))).toEqual(config);
  });
});

describe("browserConfig", () => {
  it("is null outside a browser, where the server reads the environment itself", () => {
    expect(browserConfig()).toBeNull();
  });
});
