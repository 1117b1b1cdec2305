// @vitest-environment jsdom
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { LessonCard } from "@/components/LessonCard";
import { describeProblem } from "@/lib/checkoutErrors";
import { coverOf } from "@/lib/covers";
import type { CatalogLesson } from "@/types/shop";

const joins: CatalogLesson = {
  id: "00000000-0000-4000-8000-000000000002",
  slug: "joins-without-fear",
  title: "Joins without fear",
  description: "Inner, left and lateral joins, drawn and explained.",
  price_cents: 1200,
  currency: "usd",
  owned: false,
  pending: false,
  access: "available",
  access_changed_at: null,
};

// what a screen reader hears: the visible "Buy", then which lesson and its price
const BUY = "Buy Joins without fear — $12.00";

function card() {
  return screen.getByRole("article", { name: "Joins without fear" });
}

describe("LessonCard", () => {
  it("shows the lesson's cover with its alt text and its size, so nothing moves when it loads", () => {
    const cover = coverOf("https://abc.supabase.co", {
      cover_path: `${joins.id}/cover.png`,
      cover_alt: "Two columns of cards, paired row by row",
    });
    render(<LessonCard lesson={joins} cover={cover} />);
    const image = within(card()).getByRole("img", { name: "Two columns of cards, paired row by row" });
    expect(image.getAttribute("src")).toBe(
      "https://abc.supabase.co/storage/v1/object/public/lesson-covers/00000000-0000-4000-8000-000000000002/cover.png",
    );
    expect([image.getAttribute("width"), image.getAttribute("height")]).toEqual(["960", "540"]);
    expect(image.getAttribute("loading")).toBe("lazy");
  });

  it("shows no picture for a lesson without a cover, nor one whose cover says nothing", () => {
    render(
      <LessonCard lesson={joins} cover={coverOf("https://abc.supabase.co", { cover_path: null, cover_alt: null })} />,
    );
    expect(within(card()).queryByRole("img")).toBeNull();
    expect(coverOf("https://abc.supabase.co", { cover_path: `${joins.id}/a.png`, cover_alt: null })).toBeNull();
  });

  it("puts a cover's path in its URL segment by segment, encoded", () => {
    expect(coverOf("https://abc.supabase.co", { cover_path: `${joins.id}/a b#?.png`, cover_alt: "x" })?.url).toBe(
      `https://abc.supabase.co/storage/v1/object/public/lesson-covers/${joins.id}/a%20b%23%3F.png`,
    );
  });

  it("is an article named by its title, with description and price", () => {
    render(<LessonCard lesson={joins} />);
    const article = card();
    expect(within(article).getByRole("heading", { level: 2, name: "Joins without fear" })).toBeTruthy();
    // the title leads to the lesson's page, whatever the learner may do with it
    expect(within(article).getByRole("link", { name: "Joins without fear" }).getAttribute("href")).toBe(
      "/lessons/joins-without-fear",
    );
    expect(within(article).getByText(joins.description)).toBeTruthy();
    expect(within(article).getByText("$12.00")).toBeTruthy();
  });

  it("offers a free lesson to read, with no Buy", () => {
    render(<LessonCard lesson={{ ...joins, price_cents: 0, access: "free" }} />);
    const article = card();
    expect(within(article).getByText("Free")).toBeTruthy();
    expect(within(article).getByRole("link", { name: "Read" }).getAttribute("href")).toBe(
      "/lessons/joins-without-fear",
    );
    expect(within(article).queryByRole("button")).toBeNull();
  });

  it.each([
    ["refunded", "Refunded on 2 Dec 2026. Access ended.", "Buy again"],
    ["dispute_lost", "Your bank reversed the payment on 2 Dec 2026. Access ended.", "Buy again"],
    ["failed", "Your last payment didn't go through. You were not charged.", "Try again"],
  ] as const)("says why a %s lesson is not the learner's, and offers it again", (access, note, action) => {
    const onBuy = vi.fn();
    render(<LessonCard lesson={{ ...joins, access, access_changed_at: "2026-12-02T10:00:00Z" }} onBuy={onBuy} />);
    const article = card();
    expect(within(article).getByText(note)).toBeTruthy();
    fireEvent.click(within(article).getByRole("button", { name: `${action} Joins without fear — $12.00` }));
    expect(onBuy).toHaveBeenCalledOnce();
    expect(within(article).queryByText("Owned")).toBeNull();
  });

  it("puts the sentence saying why above the price and the button", () => {
    render(<LessonCard lesson={{ ...joins, access: "refunded", access_changed_at: "2026-12-02T10:00:00Z" }} />);
    const note = within(card()).getByText("Refunded on 2 Dec 2026. Access ended.");
    const price = within(card()).getByText("$12.00");
    const button = within(card()).getByRole("button", { name: "Buy again Joins without fear — $12.00" });
    expect(note.compareDocumentPosition(price) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(note.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it.each(["free", "owned", "processing", "disputed", "failed", "refunded", "dispute_lost", "available"] as const)(
    "gives a %s lesson words and a way forward",
    (access) => {
      const price_cents = access === "free" ? 0 : joins.price_cents;
      render(<LessonCard lesson={{ ...joins, price_cents, access, access_changed_at: "2026-12-02T10:00:00Z" }} />);
      const article = card();
      // the price always; and a button or a link to take
      expect(within(article).getByText(access === "free" ? "Free" : "$12.00")).toBeTruthy();
      const ways = [...within(article).queryAllByRole("button"), ...within(article).queryAllByRole("link")];
      expect(ways.length).toBeGreaterThan(0);
      if (access !== "free" && access !== "available") {
        // anything but on-offer or free says what state it is in
        expect(article.textContent).toMatch(/Owned|processing|paused|didn't go through|Refunded|reversed/);
      }
    },
  );

  it("pauses a disputed lesson with no way to pay twice", () => {
    render(<LessonCard lesson={{ ...joins, access: "disputed", access_changed_at: "2026-12-02T10:00:00Z" }} />);
    const article = card();
    expect(
      within(article).getByText("Your payment is disputed: access is paused while your bank reviews it."),
    ).toBeTruthy();
    expect(within(article).queryByRole("button")).toBeNull();
    expect(within(article).queryByRole("link", { name: "Read" })).toBeNull();
    // the way forward: the payment, with the reference to quote, is on Purchases
    expect(within(article).getByText("Access paused")).toBeTruthy();
    expect(within(article).getByRole("link", { name: "See your payment" }).getAttribute("href")).toBe("/profile");
  });

  it("shows an owned lesson as Owned with a Read link", () => {
    render(<LessonCard lesson={{ ...joins, owned: true, access: "owned" }} />);
    const article = card();
    expect(within(article).getByText("Owned")).toBeTruthy();
    expect(within(article).getByRole("link", { name: "Read" })).toBeTruthy();
    expect(within(article).queryByRole("button", { name: /^Buy/ })).toBeNull();
  });

  it("shows a payment processing as such, without a Buy button", () => {
    render(<LessonCard lesson={{ ...joins, pending: true, access: "processing" }} />);
    const article = card();
    expect(within(article).getByText("Payment processing")).toBeTruthy();
    expect(within(article).getByText("We'll unlock the lesson when your bank confirms the payment.")).toBeTruthy();
    expect(within(article).queryByRole("button")).toBeNull();
    expect(within(article).queryByRole("link", { name: "Read" })).toBeNull();
    expect(within(article).getByRole("link", { name: "See your payment" })).toBeTruthy();
  });

  it("shows what access says, not the pending flag beside it", () => {
    render(<LessonCard lesson={{ ...joins, owned: true, pending: true, access: "owned" }} />);
    expect(within(card()).getByText("Owned")).toBeTruthy();
    expect(within(card()).queryByText("Payment processing")).toBeNull();
  });

  it("keeps Buy on offer beside an open session (pending, but not processing)", () => {
    render(<LessonCard lesson={{ ...joins, pending: true, access: "available" }} />);
    expect(within(card()).getByRole("button", { name: BUY })).toBeTruthy();
    expect(within(card()).queryByText("Payment processing")).toBeNull();
  });

  it("names each Buy by its lesson and price, while the button shows Buy", () => {
    render(<LessonCard lesson={joins} />);
    const button = within(card()).getByRole("button", { name: BUY });
    expect(within(button).getByText("Buy", { exact: true })).toBeTruthy();
  });

  it("offers Buy and hands the lesson to onBuy", () => {
    const onBuy = vi.fn();
    render(<LessonCard lesson={joins} onBuy={onBuy} />);
    fireEvent.click(within(card()).getByRole("button", { name: BUY }));
    expect(onBuy).toHaveBeenCalledWith(joins);
  });

  it("while Checkout opens, says Redirecting… and cannot be clicked again", () => {
    const onBuy = vi.fn();
    render(<LessonCard lesson={joins} buying onBuy={onBuy} />);
    const button = within(card()).getByRole("button", { name: "Redirecting…" });
    expect((button as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(button);
    expect(onBuy).not.toHaveBeenCalled();
  });

  it("is disabled while another lesson's checkout opens", () => {
    render(<LessonCard lesson={joins} busy />);
    const button = within(card()).getByRole("button", { name: BUY }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
  });

  it("shows a retryable failure as an alert with Try again", () => {
    const onBuy = vi.fn();
    render(<LessonCard lesson={joins} problem={describeProblem(503, "payment_service_unreachable")} onBuy={onBuy} />);
    const alert = within(card()).getByRole("alert");
    expect(alert.textContent).toContain("We couldn't reach the payment service. Please try again in a moment.");
    fireEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(onBuy).toHaveBeenCalledTimes(1);
  });

  it("sends an anonymous learner to create an account", () => {
    render(<LessonCard lesson={joins} problem={describeProblem(403, "sign_up_required")} />);
    const alert = within(card()).getByRole("alert");
    expect(alert.textContent).toContain("Create an account to buy lessons.");
    expect(within(alert).getByRole("link", { name: "Create an account" }).getAttribute("href")).toBe(
      "/signup?next=%2Flessons%2Fjoins-without-fear",
    );
  });

  it("sends a learner whose sign-in ended back to sign in and to this lesson", () => {
    render(<LessonCard lesson={joins} problem={describeProblem(401, "token_expired")} />);
    const alert = within(card()).getByRole("alert");
    expect(within(alert).getByRole("link", { name: "Sign in" }).getAttribute("href")).toBe(
      "/login?next=%2Flessons%2Fjoins-without-fear",
    );
  });

  it("offers a refresh when the lesson is already owned", () => {
    const onRefresh = vi.fn();
    render(<LessonCard lesson={joins} problem={describeProblem(409, "already_owned")} onRefresh={onRefresh} />);
    const alert = within(card()).getByRole("alert");
    expect(alert.textContent).toContain("You already own this lesson.");
    fireEvent.click(within(alert).getByRole("button", { name: "Refresh" }));
    expect(onRefresh).toHaveBeenCalledTimes(1);
  });

  it("prices a zero-decimal lesson in whole yen", () => {
    render(<LessonCard lesson={{ ...joins, price_cents: 1800, currency: "jpy" }} />);
    expect(within(card()).getByText("¥1,800")).toBeTruthy();
  });
});
