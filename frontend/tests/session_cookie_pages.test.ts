// Server-rendered pages with a session cookie that holds no session: each renders signed out
// and clears the cookie; none throws, and nothing rejects unhandled afterwards. Supabase here
// is only the Auth stand-in, so the reads fail: what is checked is who the page thinks it serves.
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";

import type { GetServerSidePropsContext } from "next";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { authStorageKey } from "@/lib/authCookies";
import { getServerSideProps as lessonsProps } from "@/pages/lessons";
import { getServerSideProps as lessonProps } from "@/pages/lessons/[slug]";
import { getServerSideProps as profileProps } from "@/pages/profile";

import { random, SEED } from "./random";
import { fakeAuth, gotrueSession, sessionCookie, type FakeAuth } from "./servers";

const LEARNER = "5b0a1c9e-2f4d-4e7a-9b1c-0d2e3f4a5b6c";
let auth: FakeAuth;
let supabaseUrl: string;

beforeAll(async () => {
  auth = await fakeAuth({});
  supabaseUrl = auth.url;
});

afterAll(async () => {
  await auth.close();
});

beforeEach(() => {
  process.env.SUPABASE_URL = supabaseUrl;
  process.env.SUPABASE_ANON_KEY = "anon-key";
});

type Result = { props?: { user?: unknown }; redirect?: { destination: string } };

async function render(
  page: (context: GetServerSidePropsContext<{ slug: string }>) => Promise<unknown>,
  cookie: string,
): Promise<{ result: Result; setCookie: string[] }> {
  const req = new IncomingMessage(new Socket());
  req.headers = { cookie, host: "shop.test" };
  req.url = "/lessons";
  const res = new ServerResponse(req);
  const result = (await page({
    req,
    res,
    query: {},
    params: { slug: "joins-without-fear" },
    resolvedUrl: "/lessons",
  } as unknown as GetServerSidePropsContext<{ slug: string }>)) as Result;
  // what auth-js started in the background (its initial session event) has settled too
  await new Promise((resolve) => setTimeout(resolve, 20));
  const header = res.getHeader("set-cookie");
  return { result, setCookie: Array.isArray(header) ? header : header ? [String(header)] : [] };
}

const pages = [
  ["/lessons", lessonsProps],
  ["/lessons/[slug]", lessonProps],
  ["/profile", profileProps],
] as const;

const key = () => authStorageKey(supabaseUrl);
const encoded = (value: unknown) => `base64-${Buffer.from(JSON.stringify(value)).toString("base64url")}`;

describe.each(pages)("%s with a broken session cookie", (path, page) => {
  it('renders signed out when the session\'s "user" is 5, and clears the cookie', async () => {
    const session = { ...gotrueSession(LEARNER, "learner@example.com"), user: 5 };
    const { result, setCookie } = await render(page, `${key()}=${encoded(session)}`);
    if (path === "/profile") expect(result.redirect?.destination).toBe("/login?next=%2Fprofile");
    else expect(result.props?.user).toBeNull();
    expect(setCookie.find((c) => c.startsWith(`${key()}=;`))).toMatch(/Max-Age=0/);
  });

  it("clears every chunk of a chunked one", async () => {
    const { setCookie } = await render(page, `${key()}.0=base64-eyJ1c2VyIjo; ${key()}.1=1fQ; other=kept`);
    const cleared = setCookie.map((c) => c.split("=")[0]);
    expect(cleared).toEqual(expect.arrayContaining([`${key()}.0`, `${key()}.1`]));
    expect(cleared).not.toContain("other");
  });
});

describe("a good session cookie", () => {
  it("still signs the learner in, through getClaims", async () => {
    const cookie = await sessionCookie(auth, LEARNER, "anon-key");
    const { result, setCookie } = await render(lessonsProps, cookie);
    expect(result.props?.user).toEqual({ id: LEARNER, email: "learner@example.com" });
    expect(setCookie.filter((c) => /Max-Age=0/.test(c))).toEqual([]);
  });
});

describe("any bytes in the session cookie (seeded)", () => {
  it("render every page signed out, never throwing", async () => {
    const rng = random(SEED + 2);
    const shapes = [
      () => Buffer.from(rng.bytes(80)).toString("latin1"),
      () => `base64-${Buffer.from(rng.bytes(120)).toString("base64url")}`,
      () =>
        encoded({
          ...gotrueSession(LEARNER, "x@example.com"),
          access_token: rng.pick(["", "a.b.c", "x", "e30.e30.e30"]),
          [rng.pick(["user", "expires_at", "refresh_token", "token_type"])]: rng.pick([5, null, [], "", {}, -1]),
        }),
    ];
    for (let i = 0; i < 30; i += 1) {
      const value = rng.pick(shapes)();
      const [path, page] = rng.pick(pages);
      const where = `seed ${SEED + 2} case ${i} ${path}: ${JSON.stringify(value.slice(0, 60))}`;
      const { result } = await render(page, `${key()}=${value}`);
      if (path === "/profile") expect(result.redirect?.destination, where).toMatch(/^\/login\?next=/);
      else expect(result.props?.user, where).toBeNull();
    }
  });
});
