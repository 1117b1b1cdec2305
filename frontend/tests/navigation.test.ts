import { describe, expect, it } from "vitest";

import { safeNext, signInPath, signUpPath } from "@/lib/navigation";
import { accessAfterReturn, phaseOf } from "@/lib/checkoutSession";

describe("safeNext", () => {
  it.each(["/lessons/joins-without-fear", "/profile", "/lessons?checkout=cancelled"])(
    "keeps the site path %s",
    (path) => {
      expect(safeNext(path)).toBe(path);
    },
  );

  it.each([
    ["another site", "https://evil.example/"],
    ["a protocol-relative URL", "//evil.example"],
    ["a backslash trick", "/\\evil.example"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a relative path", "lessons"],
    ["a header injection", "/lessons\r\nSet-Cookie: x=1"],
    ["a repeated parameter", ["/a", "/b"]],
    ["nothing", undefined],
  ])("sends %s to the catalogue instead", (_name, value) => {
    expect(safeNext(value)).toBe("/lessons");
  });

  it("builds the sign-in link that comes back", () => {
    expect(signInPath("/lessons/joins-without-fear")).toBe("/login?next=%2Flessons%2Fjoins-without-fear");
  });

  it.each([
    "/lessons?checkout=success&session_id=cs_test_a1b2c3",
    "/lessons/joins-without-fear#top",
    "/profile?x=a%26b&y=1+2",
  ])("keeps the whole of %s through sign-in and sign-up", (path) => {
    for (const built of [signInPath(path), signUpPath(path)]) {
      const query = new URL(built, "http://shop.test").searchParams;
      expect([...query.keys()]).toEqual(["next"]);
      expect(safeNext(query.get("next"))).toBe(path);
    }
  });
});

describe("phaseOf", () => {
  const base = { id: "cs_test_1", lesson_id: "l", payment_status: "unpaid", owned: false };
  it.each([
    [{ ...base, status: "complete", payment_status: "paid", owned: true }, "owned"],
    [{ ...base, status: "open" }, "confirming"],
    [{ ...base, status: "complete", payment_status: "paid" }, "confirming"],
    [{ ...base, status: "complete", payment_status: "unpaid" }, "processing"],
    [{ ...base, status: "processing" }, "processing"],
    [{ ...base, status: "failed" }, "failed"],
    [{ ...base, status: "expired" }, "expired"],
  ] as const)("reads %o as %s", (session, phase) => {
    expect(phaseOf(session)).toBe(phase);
  });
});

describe("accessAfterReturn", () => {
  const base = { id: "cs_test_1", lesson_id: "l", payment_status: "unpaid", owned: false };
  it.each([
    [{ ...base, status: "complete", payment_status: "paid", owned: true }, "owned"],
    [{ ...base, status: "complete", payment_status: "paid" }, "processing"],
    [{ ...base, status: "open" }, "processing"],
    [{ ...base, status: "processing" }, "processing"],
    [{ ...base, status: "failed" }, "failed"],
    [{ ...base, status: "expired" }, "available"],
  ] as const)("shows the lesson of %o as %s until the catalogue is read again", (session, access) => {
    expect(accessAfterReturn(session)).toBe(access);
  });
});
