// @vitest-environment jsdom
// The header's account menu: a disclosure button that says whether it is open, a panel with
// who is signed in, Account settings and Sign out; Escape closes it and hands the focus back,
// as do a press outside, the focus leaving it and a navigation starting.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import mitt from "next/dist/shared/lib/mitt";
import { RouterContext } from "next/dist/shared/lib/router-context.shared-runtime";
import type { NextRouter } from "next/router";
import { describe, expect, it, vi } from "vitest";

import { AccountMenu } from "@/components/AccountMenu";

function mount(email: string | null = "ada@example.com") {
  const events = mitt();
  const router = { events, prefetch: () => Promise.resolve() } as unknown as NextRouter;
  const onSignOut = vi.fn();
  render(
    <RouterContext.Provider value={router}>
      <AccountMenu email={email} onSignOut={onSignOut} leaving={false} />
      <p>Elsewhere</p>
      <button type="button">After</button>
    </RouterContext.Provider>,
  );
  const button = screen.getByRole("button", { name: "Account" });
  const panel = document.getElementById(button.getAttribute("aria-controls") ?? "")!;
  return { events, button, panel, onSignOut };
}

describe("AccountMenu", () => {
  it("is a closed disclosure named Account, showing the learner's initial", () => {
    const { button, panel } = mount();
    expect(button.getAttribute("aria-expanded")).toBe("false");
    expect(panel.hidden).toBe(true);
    expect(button.textContent).toContain("A");
    cleanup();
    expect(mount(null).button.textContent).toContain("?");
  });

  it("opens on a click with the email, Account settings and Sign out, and closes on a second", () => {
    const { button, panel, onSignOut } = mount();
    fireEvent.click(button);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect(panel.hidden).toBe(false);
    expect(screen.getByText("ada@example.com")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Account settings" }).getAttribute("href")).toBe("/account");
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(onSignOut).toHaveBeenCalledOnce();
    fireEvent.click(button);
    expect(button.getAttribute("aria-expanded")).toBe("false");
  });

  it("closes with Escape and puts the focus back on its button", () => {
    const { button, panel } = mount();
    fireEvent.click(button);
    screen.getByRole("link", { name: "Account settings" }).focus();
    fireEvent.keyDown(document, { key: "Escape" });
    expect(panel.hidden).toBe(true);
    expect(document.activeElement).toBe(button);
  });

  it("closes on a press outside, but not on one inside", () => {
    const { button, panel } = mount();
    fireEvent.click(button);
    fireEvent.pointerDown(screen.getByText("ada@example.com"));
    expect(panel.hidden).toBe(false);
    fireEvent.pointerDown(screen.getByText("Elsewhere"));
    expect(panel.hidden).toBe(true);
  });

  it("closes when the focus leaves it, and when a navigation starts", () => {
    const { events, button, panel } = mount();
    fireEvent.click(button);
    fireEvent.blur(button, { relatedTarget: screen.getByRole("button", { name: "After" }) });
    expect(panel.hidden).toBe(true);
    fireEvent.click(button);
    expect(panel.hidden).toBe(false);
    act(() => events.emit("routeChangeStart", "/account", { shallow: false }));
    expect(panel.hidden).toBe(true);
    expect(button.getAttribute("aria-expanded")).toBe("false");
  });
});
