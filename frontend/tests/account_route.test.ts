// DELETE /api/account against an Auth server on a real socket: only this site's pages, as JSON,
// a signed-in learner (Auth asked), confirmed with their email or "delete"; then Auth's admin API
// with the secret key deletes the user and the session cookies are cleared. Anything less
// deletes nothing.
import { createServer } from "node:http";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { authStorageKey } from "@/lib/authCookies";
import { deletionConfirmed } from "@/lib/accountPolicy";
import handler from "@/pages/api/account";

import { fakeAuth, sessionCookie, type FakeAuth, type Running } from "./servers";

const LEARNER = "3e2d1c0b-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const ANON_KEY = "anon-key";
const SECRET = "sb_secret_test";
let auth: FakeAuth;
let route: Running;

beforeAll(async () => {
  auth = await fakeAuth({}, SECRET);
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  route = {
    url: `http://127.0.0.1:${port}`,
    requests: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

afterAll(async () => {
  await Promise.all([auth.close(), route.close()]);
});

beforeEach(() => {
  process.env.SUPABASE_URL = auth.url;
  process.env.SUPABASE_ANON_KEY = ANON_KEY;
  process.env.SUPABASE_SECRET_KEY = SECRET;
  process.env.SITE_URL = "http://shop.test";
  auth.adminStatus = 200;
  auth.requests.length = 0;
});

const deletions = () => auth.requests.filter((r) => r.method === "DELETE");

async function remove(body: string, headers: Record<string, string>, method = "DELETE") {
  const response = await fetch(`${route.url}/api/account`, {
    method,
    headers: { "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin", ...headers },
    body: method === "GET" ? undefined : body,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    error: text ? ((JSON.parse(text) as { error: { code: string } }).error.code as string) : null,
  };
}

describe("deletionConfirmed", () => {
  it.each([
    ["delete", true],
    ["  DELETE ", true],
    ["learner@example.com", true],
    ["Learner@Example.com ", true],
    ["", false],
    ["   ", false],
    ["delete it", false],
    ["other@example.com", false],
    ["learner@example.co", false],
  ])("%j confirms: %s", (typed, expected) => {
    expect(deletionConfirmed(typed, "learner@example.com")).toBe(expected);
  });

  it("takes only the word when the account has no email", () => {
    expect(deletionConfirmed("delete", null)).toBe(true);
    expect(deletionConfirmed("null", null)).toBe(false);
  });
});

describe("DELETE /api/account refuses, and deletes nothing", () => {
  it.each(["GET", "POST", "PUT"])("%s: 405 with Allow: DELETE", async (method) => {
    const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
    const answer = await remove('{"confirm":"delete"}', { cookie }, method);
    expect([answer.status, answer.headers.get("allow"), answer.error]).toEqual([405, "DELETE", "method_not_allowed"]);
    expect(deletions()).toHaveLength(0);
  });

  it("from another site (403), or as a form post (403)", async () => {
    const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
    const crossSite = await remove('{"confirm":"delete"}', {
      cookie,
      Origin: "https://evil.example",
      "Sec-Fetch-Site": "cross-site",
    });
    expect([crossSite.status, crossSite.error]).toEqual([403, "cross_site_request"]);
    const form = await remove("confirm=delete", { cookie, "Content-Type": "application/x-www-form-urlencoded" });
    expect([form.status, form.error]).toEqual([403, "unsupported_content_type"]);
    expect(deletions()).toHaveLength(0);
  });

  it.each([
    ["not JSON", "delete"],
    ["no confirm", "{}"],
    ["a number", '{"confirm":1}'],
    ["over 2 KiB", JSON.stringify({ confirm: "x".repeat(3000) })],
  ])("a body with %s: 422", async (_name, body) => {
    const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
    const answer = await remove(body, { cookie });
    expect([answer.status, answer.error]).toEqual([422, "invalid_body"]);
    expect(deletions()).toHaveLength(0);
  });

  it("signed out: 401", async () => {
    const answer = await remove('{"confirm":"delete"}', {});
    expect([answer.status, answer.error]).toEqual([401, "not_signed_in"]);
    expect(deletions()).toHaveLength(0);
  });

  it("not confirmed with the learner's own email or the word: 422", async () => {
    const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
    const answer = await remove('{"confirm":"someone@example.com"}', { cookie });
    expect([answer.status, answer.error]).toEqual([422, "not_confirmed"]);
    expect(deletions()).toHaveLength(0);
  });

  it("without the secret key, or when Auth fails: 503, the learner still signed in", async () => {
    const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
    delete process.env.SUPABASE_SECRET_KEY;
    const unset = await remove('{"confirm":"delete"}', { cookie });
    expect([unset.status, unset.error]).toEqual([503, "deletion_unavailable"]);
    expect(deletions()).toHaveLength(0);
    process.env.SUPABASE_SECRET_KEY = SECRET;
    auth.adminStatus = 500;
    const failed = await remove('{"confirm":"delete"}', { cookie });
    expect([failed.status, failed.error]).toEqual([503, "deletion_unavailable"]);
    expect(failed.headers.get("set-cookie") ?? "").not.toContain("Max-Age=0");
  });
});

describe("DELETE /api/account, confirmed", () => {
  it.each(["delete", "Learner@Example.com"])(
    "with %j: Auth deletes the user, the cookies are cleared, 204",
    async (word) => {
      const cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
      const answer = await remove(JSON.stringify({ confirm: word }), { cookie });
      expect(answer.status).toBe(204);
      const [deleted] = deletions();
      expect(deleted?.url).toBe(`/auth/v1/admin/users/${LEARNER}`);
      expect(deleted?.headers.apikey).toBe(SECRET);
      const cleared = answer.headers.getSetCookie().filter((c) => c.startsWith(authStorageKey(auth.url)));
      expect(cleared.length).toBeGreaterThan(0);
      expect(cleared.every((c) => /Max-Age=0/i.test(c))).toBe(true);
      expect(answer.headers.get("cache-control")).toBe("private, no-store");
      // the same cookie again: Auth no longer knows the learner
      const again = await remove(JSON.stringify({ confirm: word }), { cookie });
      expect([again.status, again.error]).toEqual([401, "not_signed_in"]);
    },
  );
});
