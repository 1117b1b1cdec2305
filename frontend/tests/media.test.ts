import { describe, expect, it } from "vitest";

import { DEFAULT_MEDIA_TTL_SECONDS, mediaTtlSeconds, parseLessonMedia, refreshDelayMs } from "@/lib/media";

const audio = {
  id: "6f1c1a4e-2b0f-4a51-9a55-0d7f1f0f6c01",
  kind: "audio",
  title: "Joins in two seconds",
  url: "http://127.0.0.1:54321/storage/v1/object/sign/lesson-media/x/joins.wav?token=t",
  captionsUrl: "http://127.0.0.1:54321/storage/v1/object/sign/lesson-media/x/joins.vtt?token=t",
  external: false,
  durationSeconds: 2,
  pageCount: null,
};

describe("mediaTtlSeconds", () => {
  it("defaults to ten minutes", () => {
    expect(DEFAULT_MEDIA_TTL_SECONDS).toBe(600);
    expect(mediaTtlSeconds(undefined)).toBe(600);
  });

  it("takes whole seconds between 30 and a day", () => {
    expect(mediaTtlSeconds("120")).toBe(120);
    expect(mediaTtlSeconds(" 30 ")).toBe(30);
    expect(mediaTtlSeconds("86400")).toBe(86_400);
  });

  it("falls back to the default on anything else, never a longer-lived URL", () => {
    for (const value of ["", "abc", "-5", "1.5", "29", "86401", "1e9", "600s"]) {
      expect(mediaTtlSeconds(value), value).toBe(600);
    }
  });
});

describe("refreshDelayMs", () => {
  it("asks a minute before expiry for a ten-minute URL", () => {
    expect(refreshDelayMs(1_000_000 + 600_000, 600, 1_000_000)).toBe(540_000);
  });

  it("asks a fifth of the TTL early for short TTLs", () => {
    expect(refreshDelayMs(100_000 + 30_000, 30, 100_000)).toBe(24_000);
  });

  it("asks at once when the URLs are about to run out or have", () => {
    expect(refreshDelayMs(1_000, 600, 5_000)).toBe(0);
  });
});

describe("parseLessonMedia", () => {
  it("takes the API route's answer", () => {
    expect(parseLessonMedia({ items: [audio], expiresAt: 5 })).toEqual({ items: [audio], expiresAt: 5 });
    expect(parseLessonMedia({ items: [], expiresAt: null })).toEqual({ items: [], expiresAt: null });
  });

  it("refuses what it would not put in a src attribute", () => {
    expect(parseLessonMedia({ items: [{ ...audio, url: "javascript:alert(1)" }], expiresAt: 5 })).toBeNull();
    expect(parseLessonMedia({ items: [{ ...audio, captionsUrl: "data:text/vtt,x" }], expiresAt: 5 })).toBeNull();
    expect(parseLessonMedia({ items: [{ ...audio, kind: "iframe" }], expiresAt: 5 })).toBeNull();
    expect(parseLessonMedia({ items: "nope", expiresAt: 5 })).toBeNull();
    expect(parseLessonMedia({ error: { code: "media_unavailable" } })).toBeNull();
    expect(parseLessonMedia(null)).toBeNull();
  });
});
