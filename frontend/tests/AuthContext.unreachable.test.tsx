// @vitest-environment jsdom
// Supabase Auth down (nothing listening): sign-in says so in words and nobody is signed in.
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";

import { AuthProvider, useAuth } from "@/context/AuthContext";

import { closedPort } from "./servers";

function Probe() {
  const { user, signIn } = useAuth();
  const [message, setMessage] = useState("");
  return (
    <div>
      <p>{user ? `Signed in as ${user.email}` : "Signed out"}</p>
      <button
        type="button"
        onClick={async () => {
          const result = await signIn("learner@example.com", "learner-password");
          setMessage(result.ok ? "" : result.message);
        }}
      >
        Sign in
      </button>
      <p role="alert">{message}</p>
    </div>
  );
}

describe("AuthProvider with Supabase Auth down", () => {
  it("says the sign-in service is unreachable when Auth is down", async () => {
    render(
      <AuthProvider config={{ supabaseUrl: await closedPort(), supabaseAnonKey: "anon-key" }}>
        <Probe />
      </AuthProvider>,
    );
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Sign in" })));
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe(
        "We couldn't reach the sign-in service. Please try again in a moment.",
      ),
    );
    expect(screen.getByText("Signed out")).toBeTruthy();
  });
});
