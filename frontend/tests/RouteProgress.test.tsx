// @vitest-environment jsdom
import { act, render, screen } from "@testing-library/react";
import mitt from "next/dist/shared/lib/mitt";
import { RouterContext } from "next/dist/shared/lib/router-context.shared-runtime";
import type { NextRouter } from "next/router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { RouteProgress } from "@/components/RouteProgress";

function mount() {
  const events = mitt();
  const router = { events } as unknown as NextRouter;
  render(
    <RouterContext.Provider value={router}>
      <main>
        <h1>Joins without fear</h1>
        <button type="button">All lessons</button>
      </main>
      <RouteProgress />
    </RouterContext.Provider>,
  );
  return events;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  window.location.hash = "";
});

describe("RouteProgress", () => {
  it("shows the bar only when a page change takes longer than 150 ms, and hides it when done", () => {
    const events = mount();
    act(() => events.emit("routeChangeStart", "/lessons/joins", { shallow: false }));
    act(() => vi.advanceTimersByTime(100));
    expect(screen.queryByRole("progressbar")).toBeNull();
    act(() => vi.advanceTimersByTime(100));
    expect(screen.getByRole("progressbar", { name: "Loading the page" })).toBeDefined();
    act(() => events.emit("routeChangeComplete", "/lessons/joins", { shallow: false }));
    expect(screen.queryByRole("progressbar")).toBeNull();
  });

  it("a quick change shows nothing, and an error hides the bar", () => {
    const events = mount();
    act(() => events.emit("routeChangeStart", "/profile", { shallow: false }));
    act(() => events.emit("routeChangeComplete", "/profile", { shallow: false }));
    act(() => vi.advanceTimersByTime(1000));
    expect(screen.queryByRole("progressbar")).toBeNull();
    act(() => events.emit("routeChangeStart", "/profile", { shallow: false }));
    act(() => vi.advanceTimersByTime(1000));
    act(() => events.emit("routeChangeError", new Error("aborted"), "/profile", { shallow: false }));
    expect(screen.queryByRole("progressbar")).toBeNull();
  });

  it("moves focus to the new page's main heading, not for a shallow change or a #target", () => {
    const events = mount();
    const link = screen.getByRole("button", { name: "All lessons" });
    link.focus();
    act(() => events.emit("routeChangeComplete", "/lessons?checkout=cancel", { shallow: true }));
    expect(document.activeElement).toBe(link);
    window.location.hash = "#part-2";
    act(() => events.emit("routeChangeComplete", "/lessons/joins#part-2", { shallow: false }));
    expect(document.activeElement).toBe(link);
    window.location.hash = "";
    act(() => events.emit("routeChangeComplete", "/lessons/joins", { shallow: false }));
    const heading = screen.getByRole("heading", { level: 1 });
    expect(document.activeElement).toBe(heading);
    expect(heading.getAttribute("tabindex")).toBe("-1");
  });
});
