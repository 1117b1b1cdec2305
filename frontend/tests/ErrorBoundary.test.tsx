// @vitest-environment jsdom
import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { ErrorBoundary } from "@/components/ErrorBoundary";

describe("ErrorBoundary", () => {
  it("shows a region that failed as an alert with Try again, and the retry renders it afresh", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    let broken = true;
    function Flaky() {
      if (broken) throw new Error("render failed");
      return <p>The lessons</p>;
    }
    render(
      <>
        <ErrorBoundary label="the lessons">
          <Flaky />
        </ErrorBoundary>
        <p>The rest of the page</p>
      </>,
    );
    expect(screen.getByRole("alert").textContent).toContain("Something went wrong showing the lessons.");
    expect(screen.getByText("The rest of the page")).toBeTruthy();
    broken = false;
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Try again" })));
    expect(screen.getByText("The lessons")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
