// @vitest-environment jsdom
// The provider with the real browser client from @supabase/ssr, talking over HTTP to a
// Supabase Auth stand-in: sign-in sets the cookie session and the user; errors are plain words.
// (@supabase/ssr keeps one browser client per page, so Auth being down has a file of its own.)
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { AuthProvider, useAuth } from "@/context/AuthContext";

import { fakeAuth } from "./servers";

const LEARNER = { id: "5b0a1c9e-2f4d-4e7a-9b1c-0d2e3f4a5b6c", password: "learner-password" };

let auth: Awaited<ReturnType<typeof fakeAuth>>;

beforeAll(async () => {
  auth = await fakeAuth({ "learner@example.com": LEARNER });
});

afterAll(async () => {
  await auth.close();
});

function Probe({ password = LEARNER.password }: { password?: string }) {
  const { user, signIn, signOut } = useAuth();
  const [message, setMessage] = useState("");
  return (
    <div>
      <p>{user ? `Signed in as ${user.email}` : "Signed out"}</p>
      <button
        type="button"
        onClick={async () => {
          const result = await signIn("learner@example.com", password);
          setMessage(result.ok ? "" : result.message);
        }}
      >
        Sign in
      </button>
      <button
        type="button"
        onClick={async () => {
          const result = await signOut();
          setMessage(result.ok ? "" : result.message);
        }}
      >
        Sign out
      </button>
      <p role="alert">{message}</p>
    </div>
  );
}

describe("useAuth", () => {
  it("throws outside <AuthProvider>", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    expect(() => render(<Probe />)).toThrow("useAuth must be used inside <AuthProvider>");
  });
});

describe("AuthProvider", () => {
  it("follows the learner each server-rendered page confirms", () => {
    const signedIn = { id: LEARNER.id, email: "learner@example.com" };
    const { rerender } = render(
      <AuthProvider config={null} serverUser={signedIn}>
        <Probe />
      </AuthProvider>,
    );
    rerender(
      <AuthProvider config={null} serverUser={undefined}>
        <Probe />
      </AuthProvider>,
    );
    expect(screen.getByText("Signed in as learner@example.com")).toBeTruthy();
    rerender(
      <AuthProvider config={null} serverUser={null}>
        <Probe />
      </AuthProvider>,
    );
    expect(screen.getByText("Signed out")).toBeTruthy();
  });

  it("without a Supabase configuration, says sign-in is unavailable", async () => {
    render(
      <AuthProvider config={null}>
        <Probe />
      </AuthProvider>,
    );
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
    expect(screen.getByRole("alert").textContent).toBe(
      "We couldn't reach the sign-in service. Please try again in a moment.",
    );
  });

  it("starts from the user the server checked", () => {
    render(
      <AuthProvider config={null} serverUser={{ id: LEARNER.id, email: "learner@example.com" }}>
        <Probe />
      </AuthProvider>,
    );
    expect(screen.getByText("Signed in as learner@example.com")).toBeTruthy();
  });

  it("signs in with a password, keeps the session in a cookie, and signs out", async () => {
    render(
      <AuthProvider config={{ supabaseUrl: auth.url, supabaseAnonKey: "anon-key" }}>
        <Probe />
      </AuthProvider>,
    );
    expect(screen.getByText("Signed out")).toBeTruthy();
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
    await waitFor(() => expect(screen.getByText("Signed in as learner@example.com")).toBeTruthy());
    expect(document.cookie).toMatch(/sb-127-auth-token=base64-/);
    expect(auth.requests.some((r) => r.url === "/auth/v1/token?grant_type=password")).toBe(true);

    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign out" })));
    await waitFor(() => expect(screen.getByText("Signed out")).toBeTruthy());
    expect(document.cookie).not.toMatch(/sb-127-auth-token=base64-/);
    expect(auth.requests.some((r) => r.url.startsWith("/auth/v1/logout"))).toBe(true);
  });

  it("says plainly when the email and password don't match", async () => {
    render(
      <AuthProvider config={{ supabaseUrl: auth.url, supabaseAnonKey: "anon-key" }}>
        <Probe password="wrong" />
      </AuthProvider>,
    );
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe("That email and password don't match an account."),
    );
    expect(screen.getByText("Signed out")).toBeTruthy();
  });
});
