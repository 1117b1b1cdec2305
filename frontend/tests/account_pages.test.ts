// The account pages on the server: /login, /signup and /forgot-password send a signed-in learner
// on (to a safe `next`), render for a signed-out one or a broken cookie; /reset-password knows
// who the reset link signed in, or nobody.
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";

import type { GetServerSidePropsContext } from "next";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { authStorageKey } from "@/lib/authCookies";
import { getServerSideProps as accountProps } from "@/pages/account";
import { getServerSideProps as forgotProps } from "@/pages/forgot-password";
import { getServerSideProps as loginProps } from "@/pages/login";
import { getServerSideProps as resetProps } from "@/pages/reset-password";
import { getServerSideProps as signupProps } from "@/pages/signup";

import { fakeAuth, sessionCookie, type FakeAuth } from "./servers";

const LEARNER = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
let auth: FakeAuth;

beforeAll(async () => {
  auth = await fakeAuth({});
});

afterAll(async () => {
  await auth.close();
});

beforeEach(() => {
  process.env.SUPABASE_URL = auth.url;
  process.env.SUPABASE_ANON_KEY = "anon-key";
});

type Result = { props?: { user?: unknown }; redirect?: { destination: string; permanent: boolean } };
type Page = (context: GetServerSidePropsContext) => Promise<unknown>;

async function render(
  page: Page,
  cookie: string,
  query: Record<string, string> = {},
  resolvedUrl = "/",
): Promise<Result> {
  const req = new IncomingMessage(new Socket());
  req.headers = { cookie, host: "shop.test" };
  const res = new ServerResponse(req);
  return (await page({ req, res, query, resolvedUrl } as unknown as GetServerSidePropsContext)) as Result;
}

const signedOutPages = [
  ["/login", loginProps],
  ["/signup", signupProps],
  ["/forgot-password", forgotProps],
] as const;

describe.each(signedOutPages)("%s", (_path, page) => {
  it("sends a signed-in learner on to next", async () => {
    const cookie = await sessionCookie(auth, LEARNER, "anon-key");
    const result = await render(page as Page, cookie, { next: "/lessons/joins-without-fear?x=1" });
    expect(result.redirect).toEqual({ destination: "/lessons/joins-without-fear?x=1", permanent: false });
  });

  it("or to the catalogue when next leaves the site", async () => {
    const cookie = await sessionCookie(auth, LEARNER, "anon-key");
    for (const next of ["//evil.example/x", "https://evil.example", "/\\evil.example"]) {
      expect((await render(page as Page, cookie, { next })).redirect?.destination, next).toBe("/lessons");
    }
  });

  it("renders the form for a learner signed out, or with a cookie that holds no session", async () => {
    expect((await render(page as Page, "")).props).toEqual({ user: null });
    const broken = `${authStorageKey(auth.url)}=base64-eyJ1c2VyIjo1fQ`;
    expect((await render(page as Page, broken)).props).toEqual({ user: null });
  });
});

describe("/reset-password", () => {
  it("knows the learner the reset link signed in", async () => {
    const cookie = await sessionCookie(auth, LEARNER, "anon-key");
    expect((await render(resetProps as Page, cookie)).props).toEqual({
      user: { id: LEARNER, email: "learner@example.com" },
    });
  });

  it("renders for nobody without a session (the page then says how to get a link)", async () => {
    expect((await render(resetProps as Page, "")).props).toEqual({ user: null });
  });
});

describe("/account", () => {
  it("is for the signed-in learner", async () => {
    const cookie = await sessionCookie(auth, LEARNER, "anon-key");
    expect((await render(accountProps as Page, cookie, {}, "/account")).props).toEqual({
      user: { id: LEARNER, email: "learner@example.com" },
    });
  });

  it("sends anyone else to sign in and back, keeping what a mailed link said", async () => {
    expect((await render(accountProps as Page, "", {}, "/account")).redirect).toEqual({
      destination: "/login?next=%2Faccount",
      permanent: false,
    });
    const broken = `${authStorageKey(auth.url)}=base64-eyJ1c2VyIjo1fQ`;
    expect((await render(accountProps as Page, broken, {}, "/account?email_change=confirmed_one")).redirect).toEqual({
      destination: "/login?next=%2Faccount%3Femail_change%3Dconfirmed_one",
      permanent: false,
    });
  });
});
