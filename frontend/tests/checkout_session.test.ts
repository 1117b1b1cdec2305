// The API route under a real HTTP server, talking over real sockets to a Supabase Auth
// stand-in and to a sidecar stand-in that answers with the sidecar's own statuses and codes.
import type { ServerResponse } from "node:http";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { UNREACHABLE } from "@/lib/checkoutErrors";
import handler, { parseCheckoutBody } from "@/pages/api/stripe/checkout_session";

import {
  closedPort,
  fakeAuth,
  gotrueSession,
  json,
  serve,
  sessionCookie,
  type Recorded,
  type Running,
} from "./servers";
import { random, SEED } from "./random";

const LEARNER = "5b0a1c9e-2f4d-4e7a-9b1c-0d2e3f4a5b6c";
const LESSON = "00000000-0000-4000-8000-000000000002";
const SESSION = "cs_test_a1b2c3";
const ANON_KEY = "anon-key";

type SidecarReply = { status: number; body?: unknown; raw?: string };

let auth: Awaited<ReturnType<typeof fakeAuth>>;
let sidecar: Running;
let route: Running;
let reply: SidecarReply;
let cookie: string;

beforeAll(async () => {
  auth = await fakeAuth({});
  sidecar = await serve((req: Recorded, res: ServerResponse) => {
    if (reply.raw !== undefined) {
      res.writeHead(reply.status, { "Content-Type": "text/html" });
      return res.end(reply.raw);
    }
    json(res, reply.status, reply.body ?? null);
  });
  route = await serveRoute();
  cookie = await sessionCookie(auth, LEARNER, ANON_KEY);
});

async function serveRoute(): Promise<Running> {
  // the handler itself, behind a plain Node server: it needs nothing Next adds
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

afterAll(async () => {
  await Promise.all([auth.close(), sidecar.close(), route.close()]);
});

beforeEach(() => {
  process.env.SUPABASE_URL = auth.url;
  process.env.SUPABASE_ANON_KEY = ANON_KEY;
  process.env.SIDECAR_URL = sidecar.url;
  reply = { status: 201, body: { id: SESSION, url: `https://checkout.stripe.com/c/pay/${SESSION}` } };
  sidecar.requests.length = 0;
});

afterEach(() => {
  delete process.env.SIDECAR_URL;
});

async function post(body: string, headers: Record<string, string> = { cookie }) {
  const response = await fetch(`${route.url}/api/stripe/checkout_session`, {
    method: "POST",
    // what a page of this site sends (Chromium's fetch adds Sec-Fetch-Site itself)
    headers: { "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin", ...headers },
    body,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, never> };
}

async function get(query: string, headers: Record<string, string> = { cookie }) {
  const response = await fetch(`${route.url}/api/stripe/checkout_session${query}`, {
    headers: { "Sec-Fetch-Site": "same-origin", ...headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, never> };
}

const lessonBody = JSON.stringify({ lesson_id: LESSON });

describe("methods", () => {
  it.each(["PUT", "PATCH", "DELETE"])("answers %s with 405 and Allow", async (method) => {
    const response = await fetch(`${route.url}/api/stripe/checkout_session`, { method, headers: { cookie } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("method_not_allowed");
    expect(sidecar.requests).toHaveLength(0);
  });
});

describe("POST: the body", () => {
  it.each([
    ["not JSON", "lesson_id=abc"],
    ["an array", JSON.stringify([LESSON])],
    ["no lesson_id", JSON.stringify({})],
    ["a lesson_id that is not a uuid", JSON.stringify({ lesson_id: "joins" })],
    ["a number", JSON.stringify({ lesson_id: 2 })],
    ["a price alongside", JSON.stringify({ lesson_id: LESSON, price_cents: 1 })],
    ["a redirect URL alongside", JSON.stringify({ lesson_id: LESSON, success_url: "https://evil.example" })],
  ])("refuses %s with 422 invalid_body and asks the sidecar nothing", async (_name, body) => {
    const response = await post(body);
    expect(response.status).toBe(422);
    expect(response.body.error).toMatchObject({ code: "invalid_body" });
    expect(sidecar.requests).toHaveLength(0);
  });

  it("refuses a body over 4 KiB with 413", async () => {
    const response = await post(JSON.stringify({ lesson_id: LESSON, pad: "x".repeat(5000) }));
    expect(response.status).toBe(413);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("parses exactly one lesson id", () => {
    expect(parseCheckoutBody(JSON.stringify({ lesson_id: LESSON.toUpperCase() }))).toBe(LESSON);
    expect(parseCheckoutBody("null")).toBeNull();
  });
});

describe("POST: the learner", () => {
  it("answers 401 without a session cookie, before asking the sidecar", async () => {
    const response = await post(lessonBody, {});
    expect(response.status).toBe(401);
    expect(response.body.error).toMatchObject({ code: "not_signed_in", message: "Please sign in to continue." });
    expect(sidecar.requests).toHaveLength(0);
  });

  it("answers 401 when Supabase Auth does not accept the cookie's token", async () => {
    // a well-formed session cookie whose token Auth never issued (e.g. signed out elsewhere)
    const name = cookie.split("=")[0];
    const unknown = gotrueSession(LEARNER, "learner@example.com");
    const value = Buffer.from(JSON.stringify({ ...unknown, access_token: unknown.access_token + "x" })).toString(
      "base64url",
    );
    auth.requests.length = 0;
    const response = await post(lessonBody, { cookie: `${name}=base64-${value}` });
    expect(response.status).toBe(401);
    expect(auth.requests.map((r) => r.url)).toContain("/auth/v1/user");
    expect(sidecar.requests).toHaveLength(0);
  });

  it("forwards only the lesson id, with the learner's access token", async () => {
    const response = await post(lessonBody);
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ id: SESSION, url: `https://checkout.stripe.com/c/pay/${SESSION}` });
    expect(sidecar.requests).toHaveLength(1);
    const [request] = sidecar.requests;
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/v1/checkout/sessions");
    expect(JSON.parse(request?.body ?? "")).toEqual({ lesson_id: LESSON });
    const token = String(request?.headers.authorization).replace(/^Bearer /, "");
    expect(token.split(".")).toHaveLength(3);
    expect(JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).sub).toBe(LEARNER);
    expect(request?.headers.cookie).toBeUndefined();
  });

  it("passes a reused open session on with 200", async () => {
    reply = { status: 200, body: { id: SESSION, url: "https://checkout.stripe.com/c/pay/x" } };
    const response = await post(lessonBody);
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(SESSION);
  });
});

describe("POST: the sidecar's refusals", () => {
  it.each([
    [401, "token_expired", "Your sign-in has ended. Please sign in again."],
    [403, "sign_up_required", "Create an account to buy lessons."],
    [404, "unknown_lesson", "This lesson is no longer for sale."],
    [409, "already_owned", "You already own this lesson."],
    [
      409,
      "payment_pending",
      "A payment for this lesson is still being processed. We'll unlock it when it's confirmed.",
    ],
    [409, "checkout_conflict", "The lesson changed while checkout was opening. Please try again."],
    [422, "free_lesson", "This lesson is free; there is nothing to pay."],
    [422, "invalid_body", "That request wasn't understood. Please reload the page and try again."],
    [
      502,
      "payment_provider_error",
      "The payment provider didn't respond. You have not been charged. Please try again in a moment.",
    ],
    [503, "database_unavailable", UNREACHABLE],
  ])("passes %i %s on with a clear message", async (status, code, message) => {
    reply = { status, body: { error: { code, message: "the sidecar's own words" } } };
    const response = await post(lessonBody);
    expect(response.status).toBe(status);
    expect(response.body).toEqual({ error: { code, message } });
  });

  it("turns a non-JSON 500 into a JSON error, never the raw page", async () => {
    reply = { status: 500, raw: "<html>Internal Server Error</html>" };
    const response = await post(lessonBody);
    expect(response.status).toBe(500);
    expect(response.body.error).toMatchObject({ code: "service_unavailable" });
    expect(JSON.stringify(response.body)).not.toContain("<html>");
  });

  it("refuses a success without a checkout URL as a bad gateway", async () => {
    reply = { status: 201, body: { id: SESSION, url: "javascript:alert(1)" } };
    const response = await post(lessonBody);
    expect(response.status).toBe(502);
    expect(response.body.error).toMatchObject({ code: "bad_gateway" });
  });

  it("says the payment service is unreachable when the sidecar is down", async () => {
    process.env.SIDECAR_URL = await closedPort();
    const response = await post(lessonBody);
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ error: { code: "payment_service_unreachable", message: UNREACHABLE } });
  });

  it("says the same when SIDECAR_URL is not configured", async () => {
    delete process.env.SIDECAR_URL;
    const response = await post(lessonBody);
    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ code: "payment_service_unreachable" });
  });
});

describe("GET: reading a session back", () => {
  const status = { id: SESSION, lesson_id: LESSON, status: "complete", payment_status: "paid", owned: true };

  it("forwards to the sidecar's GET with the learner's token and returns its status", async () => {
    reply = { status: 200, body: { ...status, extra: "dropped" } };
    const response = await get(`?session_id=${SESSION}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(status);
    expect(sidecar.requests[0]?.url).toBe(`/v1/checkout/sessions/${SESSION}`);
    expect(sidecar.requests[0]?.method).toBe("GET");
    expect(String(sidecar.requests[0]?.headers.authorization)).toMatch(/^Bearer ey/);
  });

  it.each(["", "?session_id=", "?session_id=pi_123", "?session_id=cs_../../admin"])(
    "refuses a malformed session id (%s) with 422",
    async (query) => {
      const response = await get(query);
      expect(response.status).toBe(422);
      expect(response.body.error).toMatchObject({ code: "invalid_session_id" });
      expect(sidecar.requests).toHaveLength(0);
    },
  );

  it("answers 401 without a session", async () => {
    const response = await get(`?session_id=${SESSION}`, {});
    expect(response.status).toBe(401);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("passes the sidecar's 404 for someone else's or an unknown session", async () => {
    reply = {
      status: 404,
      body: { error: { code: "checkout_session_not_found", message: "No such checkout session." } },
    };
    const response = await get(`?session_id=${SESSION}`);
    expect(response.status).toBe(404);
    expect(response.body.error).toMatchObject({ code: "checkout_session_not_found" });
  });

  it("says the payment service is unreachable when the sidecar is down", async () => {
    process.env.SIDECAR_URL = await closedPort();
    const response = await get(`?session_id=${SESSION}`);
    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ message: UNREACHABLE });
  });
});

describe("only this site's pages may call it", () => {
  const SITE = "http://shop.test:3000";
  beforeEach(() => {
    process.env.SITE_URL = `${SITE}/`;
  });
  afterEach(() => {
    delete process.env.SITE_URL;
  });

  // what Chromium sends for a form or fetch from elsewhere; a page on another port of the same
  // host is same-site, so its SameSite=Lax cookies ride along and only Origin tells
  it.each([
    ["another site's form", { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }],
    ["a page on another port", { Origin: "http://shop.test:4000", "Sec-Fetch-Site": "same-site" }],
    ["a sandboxed page (Origin: null)", { Origin: "null", "Sec-Fetch-Site": "cross-site" }],
    ["another origin, no Sec-Fetch-Site", { Origin: "https://evil.example", "Sec-Fetch-Site": "" }],
    ["no Origin and no Sec-Fetch-Site", { "Sec-Fetch-Site": "" }],
    ["a navigation typed by hand", { "Sec-Fetch-Site": "none" }],
  ])("refuses a POST from %s with 403 and opens nothing", async (_name, headers) => {
    const response = await post(lessonBody, { cookie, ...headers });
    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: "cross_site_request" });
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("refuses a cross-site GET too", async () => {
    const response = await get(`?session_id=${SESSION}`, { cookie, "Sec-Fetch-Site": "cross-site" });
    expect(response.status).toBe(403);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("accepts Origin equal to SITE_URL's origin without Sec-Fetch-Site", async () => {
    const response = await post(lessonBody, { cookie, Origin: SITE, "Sec-Fetch-Site": "" });
    expect(response.status).toBe(201);
  });

  it.each([
    ["text/plain (a form or no-cors fetch)", "text/plain;charset=UTF-8"],
    ["a urlencoded form", "application/x-www-form-urlencoded"],
    ["a multipart form", "multipart/form-data; boundary=x"],
    ["JSON's look-alike", "application/jsonp"],
    ["no type at all", ""],
  ])("refuses a same-origin POST of %s with 403", async (_name, type) => {
    const response = await post(lessonBody, { cookie, "Content-Type": type });
    expect(response.status).toBe(403);
    expect(response.body.error).toMatchObject({ code: "unsupported_content_type" });
    expect(sidecar.requests).toHaveLength(0);
  });

  it.each(["application/json; charset=utf-8", "Application/JSON"])("accepts %s", async (type) => {
    const response = await post(lessonBody, { cookie, "Content-Type": type });
    expect(response.status).toBe(201);
  });

  it("decides every Origin × Sec-Fetch-Site × Content-Type as the rule says (seeded)", async () => {
    const rng = random(SEED);
    const origins = [undefined, SITE, "http://shop.test:4000", "https://shop.test:3000", "null", "http://shop.test"];
    const sites = [undefined, "same-origin", "same-site", "cross-site", "none", "Same-Origin"];
    const types = [undefined, "application/json", "application/json;charset=utf-8", "text/plain", "text/json"];
    for (let i = 0; i < 60; i += 1) {
      const origin = rng.pick(origins);
      const site = rng.pick(sites);
      const type = rng.pick(types);
      const headers: Record<string, string> = { cookie, "Sec-Fetch-Site": site ?? "", "Content-Type": type ?? "" };
      if (origin) headers.Origin = origin;
      sidecar.requests.length = 0;
      const response = await post(lessonBody, headers);
      const sameOrigin = origin === SITE || site === "same-origin";
      const json = type?.split(";")[0] === "application/json";
      const expected = sameOrigin && json ? 201 : 403;
      const where = `seed ${SEED} case ${i}: ${JSON.stringify(headers)}`;
      expect(response.status, where).toBe(expected);
      expect(sidecar.requests, where).toHaveLength(expected === 201 ? 1 : 0);
    }
  });
});

describe("a session cookie that holds no session", () => {
  const name = () => cookie.split("=")[0] ?? "";
  const encoded = (value: unknown) => `base64-${Buffer.from(JSON.stringify(value)).toString("base64url")}`;

  it("is signed out (401), cleared, and never a 500", async () => {
    const session = { ...gotrueSession(LEARNER, "learner@example.com"), user: 5 };
    const response = await post(lessonBody, { cookie: `${name()}=${encoded(session)}` });
    expect(response.status).toBe(401);
    expect(response.body.error).toMatchObject({ code: "not_signed_in" });
    const cleared = response.headers.getSetCookie().find((c) => c.startsWith(`${name()}=;`));
    expect(cleared).toMatch(/Max-Age=0/);
    expect(cleared).toMatch(/Path=\//);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("answers the GET signed out as well", async () => {
    const response = await get(`?session_id=${SESSION}`, { cookie: `${name()}=${encoded({ user: [] })}` });
    expect(response.status).toBe(401);
  });

  it("any bytes in it: signed out, never 5xx (seeded)", async () => {
    const rng = random(SEED + 1);
    const shapes = [
      () => Buffer.from(rng.bytes(64)).toString("latin1"),
      () => `base64-${Buffer.from(rng.bytes(96)).toString("base64url")}`,
      () =>
        encoded({
          ...gotrueSession(LEARNER, "x@example.com"),
          [rng.pick(["user", "access_token", "expires_at", "refresh_token"])]: rng.pick([
            5,
            null,
            [],
            "x",
            {},
            true,
            1e309,
          ]),
        }),
    ];
    for (let i = 0; i < 40; i += 1) {
      // cookie values travel as visible ASCII: percent-encode the rest as a browser would keep it
      const value = encodeURIComponent(rng.pick(shapes)());
      const where = `seed ${SEED + 1} case ${i}: ${value.slice(0, 80)}`;
      const response = await post(lessonBody, { cookie: `${name()}=${value}` });
      expect(response.status, where).toBe(401);
      expect(sidecar.requests, where).toHaveLength(0);
    }
  });
});
