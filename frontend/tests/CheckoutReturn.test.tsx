// @vitest-environment jsdom
// Back from Checkout: the notice reads the session back through the real API route (on a real
// socket, with the learner's cookie) from a sidecar stand-in that answers as the sidecar does,
// and follows it to Owned, processing, failed, or a clear error with a retry. Polling is bounded.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { CheckoutReturn, CONFIRMING_POLLS, pollDelay } from "@/components/CheckoutReturn";
import { PAYMENT_SAFE, UNREACHABLE } from "@/lib/checkoutErrors";
import { readCheckoutSession, type CheckoutSessionState } from "@/lib/stripe";
import handler from "@/pages/api/stripe/checkout_session";

import { fakeAuth, json, serve, sessionCookie, type FakeAuth, type Running } from "./servers";

const LEARNER = "5b0a1c9e-2f4d-4e7a-9b1c-0d2e3f4a5b6c";
const LESSON = "00000000-0000-4000-8000-000000000002";
const SESSION = "cs_test_return1";

type Reply = { status: number; body: unknown } | "down";

let auth: FakeAuth;
let sidecar: Running;
let site: { url: string; server: Server };
let replies: Reply[];
let last: Reply;

function session(status: string, paymentStatus: string, owned: boolean): Reply {
  return { status: 200, body: { id: SESSION, lesson_id: LESSON, status, payment_status: paymentStatus, owned } };
}

beforeAll(async () => {
  auth = await fakeAuth({});
  sidecar = await serve((_req, res) => {
    const reply = replies.shift() ?? last;
    last = reply;
    if (reply === "down") {
      res.socket?.destroy(); // the connection drops, as when the sidecar is gone
      return;
    }
    json(res, reply.status, reply.body);
  });
  const cookie = await sessionCookie(auth, LEARNER, "anon-key");
  // the site: the API route, with the cookie and the Sec-Fetch-Site a browser would send
  const server = createServer((req, res) => {
    req.headers.cookie = cookie;
    req.headers["sec-fetch-site"] = "same-origin";
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  site = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  process.env.SUPABASE_URL = auth.url;
  process.env.SUPABASE_ANON_KEY = "anon-key";
  process.env.SIDECAR_URL = sidecar.url;
});

afterAll(async () => {
  await new Promise<void>((resolve) => site.server.close(() => resolve()));
  await Promise.all([auth.close(), sidecar.close()]);
});

beforeEach(() => {
  replies = [];
  last = session("open", "unpaid", false);
  sidecar.requests.length = 0;
});

const read = (id: string) => readCheckoutSession(id, site.url);
const quick = () => 5;
const lessonOf = (id: string) => (id === LESSON ? { title: "Joins without fear", slug: "joins-without-fear" } : null);

function renderReturn(onSession: (s: CheckoutSessionState) => void = () => undefined) {
  return render(
    <CheckoutReturn
      query={{ kind: "success", sessionId: SESSION }}
      lessonOf={lessonOf}
      onSession={onSession}
      read={read}
      delay={quick}
    />,
  );
}

describe("CheckoutReturn", () => {
  it("says the payment was received at once, then that the lesson is yours", async () => {
    replies = [session("open", "unpaid", false), session("open", "unpaid", false), session("complete", "paid", true)];
    const seen: CheckoutSessionState[] = [];
    renderReturn((s) => seen.push(s));
    expect(screen.getByRole("status").textContent).toBe("Payment received. Unlocking your lesson…");
    await waitFor(() =>
      expect(screen.getByRole("status").textContent).toBe(
        "Purchase complete: Joins without fear is yours.Start reading",
      ),
    );
    // the next thing to do is to read it: the focus is there, and it leads to the lesson
    const start = screen.getByRole("link", { name: "Start reading" });
    expect(start.getAttribute("href")).toBe("/lessons/joins-without-fear");
    expect(document.activeElement).toBe(start);
    expect(seen.at(-1)).toMatchObject({ lesson_id: LESSON, owned: true });
    expect(sidecar.requests).toHaveLength(3);
    expect(sidecar.requests[0]?.url).toBe(`/v1/checkout/sessions/${SESSION}`);
    expect(String(sidecar.requests[0]?.headers.authorization)).toMatch(/^Bearer /);
  });

  it("says a delayed payment is processing, then that it failed", async () => {
    replies = [
      session("processing", "unpaid", false),
      session("processing", "unpaid", false),
      session("failed", "unpaid", false),
    ];
    renderReturn();
    await waitFor(() =>
      expect(screen.getByRole("status").textContent).toBe(
        "Payment processing. We'll unlock the lesson when your bank confirms it.",
      ),
    );
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe("The payment failed. You have not been charged."),
    );
    const count = sidecar.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sidecar.requests).toHaveLength(count); // settled: polling stopped
  });

  it("says an expired session charged nothing, in words of its own and not as an error", async () => {
    replies = [session("expired", "unpaid", false)];
    renderReturn();
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("expired"));
    expect(screen.getByRole("status").textContent).toBe(
      "This checkout expired before it was paid. You have not been charged, and you can buy the lesson again.",
    );
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByText(/Purchase complete/)).toBeNull();
  });

  it("gives up after a bounded number of polls and offers to try again", async () => {
    renderReturn();
    await waitFor(() => expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy());
    expect(screen.getByRole("alert").textContent).toContain("We haven't had the payment confirmed yet.");
    expect(sidecar.requests).toHaveLength(CONFIRMING_POLLS);
    replies = [session("complete", "paid", true)];
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Try again" })));
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("is yours."));
  });

  it("when the payment service is unreachable, says so plainly; Try again works once it is back", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    replies = ["down", "down", "down"];
    renderReturn();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain(UNREACHABLE));
    expect(screen.getByRole("alert").textContent).toContain(PAYMENT_SAFE);
    expect(screen.queryByRole("status")).toBeNull();
    last = session("complete", "paid", true);
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Try again" })));
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("Purchase complete"));
    expect(document.activeElement).toBe(screen.getByRole("link", { name: "Start reading" }));
  });

  it("rides out one dropped connection without troubling the learner", async () => {
    replies = ["down", session("complete", "paid", true)];
    renderReturn();
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("is yours."));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("says so when the session is not the learner's, without retrying", async () => {
    replies = [
      { status: 404, body: { error: { code: "checkout_session_not_found", message: "No such checkout session." } } },
    ];
    renderReturn();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("We couldn't find that checkout."));
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
    expect(screen.getByRole("link", { name: "Your purchases" }).getAttribute("href")).toBe("/profile");
    expect(screen.getByRole("alert").textContent).not.toContain(PAYMENT_SAFE);
    expect(sidecar.requests).toHaveLength(1);
  });

  it("says a cancelled checkout charged nothing, and asks nobody", () => {
    render(
      <CheckoutReturn query={{ kind: "cancelled" }} lessonOf={lessonOf} onSession={() => undefined} read={read} />,
    );
    const notice = screen.getByRole("status");
    expect(notice.textContent).toBe("Checkout cancelled. You have not been charged.");
    expect(notice.className).toMatch(/neutral/); // not the success notice's green
    expect(notice.className).not.toMatch(/status/);
    expect(sidecar.requests).toHaveLength(0);
  });

  it("backs off from 1 s by half each time, to at most 8 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map(pollDelay)).toEqual([1000, 1500, 2250, 3375, 5062.5, 7593.75, 8000, 8000]);
  });
});
