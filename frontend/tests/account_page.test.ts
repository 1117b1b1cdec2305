// The account page on the server: for the signed-in learner only; anyone else is sent to sign
// in and back (keeping what a mailed email-change link said).
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";

import type { GetServerSidePropsContext } from "next";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { authStorageKey } from "@/lib/authCookies";
import { getServerSideProps as accountProps } from "@/pages/account";

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
