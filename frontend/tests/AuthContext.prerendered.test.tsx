// @vitest-environment jsdom
// A prerendered page has no learner from the server: the provider learns who is signed in from
// the session cookie through the real browser client (@supabase/ssr) talking to an Auth
// stand-in, and knows at once that nobody is when there is no cookie, without loading it.
// (@supabase/ssr keeps one browser client per page, hence a file of its own.)
import { render, screen, waitFor } from "@testing-library/react";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AuthProvider, useAuth } from "@/context/AuthContext";

import { fakeAuth, sessionCookie, type FakeAuth } from "./servers";

const LEARNER = "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b";
let auth: FakeAuth;

beforeAll(async () => {
  auth = await fakeAuth({});
});

afterAll(async () => {
  await auth.close();
});

function Probe() {
  const { user, checked } = useAuth();
  return <p>{!checked ? "Checking" : user ? `Signed in as ${user.email}` : "Signed out"}</p>;
}

describe("AuthProvider on a prerendered page", () => {
  it("without a session cookie, knows nobody is signed in and never calls Auth", async () => {
    render(
      <AuthProvider config={{ supabaseUrl: auth.url, supabaseAnonKey: "anon-key" }}>
        <Probe />
      </AuthProvider>,
    );
    await waitFor(() => expect(screen.getByText("Signed out")).toBeTruthy());
    expect(auth.requests).toEqual([]);
  });

  it("with one, reads who is signed in from it", async () => {
    for (const cookie of (await sessionCookie(auth, LEARNER, "anon-key")).split("; ")) document.cookie = cookie;
    render(
      <AuthProvider config={{ supabaseUrl: auth.url, supabaseAnonKey: "anon-key" }}>
        <Probe />
      </AuthProvider>,
    );
    expect(screen.getByText("Checking")).toBeTruthy();
    await waitFor(() => expect(screen.getByText("Signed in as learner@example.com")).toBeTruthy());
  });
});
