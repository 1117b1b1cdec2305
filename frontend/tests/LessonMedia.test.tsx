// @vitest-environment jsdom
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { LessonMedia } from "@/components/LessonMedia";
import type { LessonMedia as Media, ReaderMedia } from "@/lib/media";

const LESSON = "00000000-0000-4000-8000-000000000002";
const STORAGE = "http://127.0.0.1:54321/storage/v1/object/sign/lesson-media";

function signed(file: string, token = "one"): string {
  return `${STORAGE}/${LESSON}/${file}?token=${token}`;
}

const audio: ReaderMedia = {
  id: "a",
  kind: "audio",
  title: "Joins in two seconds",
  url: signed("joins.wav"),
  captionsUrl: signed("joins.vtt"),
  external: false,
  durationSeconds: 2,
  pageCount: null,
};
const video: ReaderMedia = { ...audio, id: "v", kind: "video", title: "Joins, filmed", url: signed("joins.webm") };
const image: ReaderMedia = {
  ...audio,
  id: "i",
  kind: "image",
  title: "Two overlapping circles",
  url: signed("diagram.png"),
  captionsUrl: null,
  durationSeconds: null,
};
const pdf: ReaderMedia = {
  ...image,
  id: "p",
  kind: "pdf",
  title: "Joins: the notes",
  url: signed("notes.pdf") + "&download=",
  pageCount: 1,
};
const outside: ReaderMedia = {
  ...image,
  id: "e",
  kind: "video",
  title: "Joins, elsewhere",
  url: "https://media.example.com/joins.mp4",
  external: true,
};

function answer(body: Media) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("LessonMedia", () => {
  it("shows each kind as a reader expects", () => {
    const initial = { items: [video, audio, image, pdf, outside], expiresAt: Date.now() + 600_000 };
    const { container } = render(<LessonMedia lessonId={LESSON} initial={initial} ttlSeconds={600} />);
    const region = screen.getByRole("region", { name: "Lesson media" });

    const player = container.querySelector("video");
    expect(player?.getAttribute("src")).toBe(video.url);
    expect(player?.hasAttribute("controls")).toBe(true);
    expect(player?.getAttribute("crossorigin")).toBe("anonymous");
    const track = player?.querySelector("track");
    expect(track?.getAttribute("kind")).toBe("captions");
    expect(track?.getAttribute("src")).toBe(video.captionsUrl);
    expect(within(region).getByText("Joins, filmed")).toBeTruthy();

    expect(container.querySelector("audio")?.getAttribute("src")).toBe(audio.url);
    expect(within(region).getAllByText("(0:02)", { exact: false })).toHaveLength(2);
    expect(within(region).getByRole("img", { name: "Two overlapping circles" }).getAttribute("src")).toBe(image.url);
    const download = within(region).getByRole("link", { name: "Download Joins: the notes" });
    expect(download.getAttribute("href")).toBe(pdf.url);
    expect(within(region).getByText("(PDF, 1 page)")).toBeTruthy();
    expect(within(region).getByRole("link", { name: "Joins, elsewhere" }).getAttribute("href")).toBe(outside.url);
    expect(within(region).getByText("(on another site)")).toBeTruthy();
  });

  it("has no captions track, and no CORS request, without a .vtt beside the file", () => {
    const { container } = render(
      <LessonMedia
        lessonId={LESSON}
        initial={{ items: [{ ...audio, captionsUrl: null }], expiresAt: 1 }}
        ttlSeconds={600}
      />,
    );
    const player = container.querySelector("audio");
    expect(player?.querySelector("track")).toBeNull();
    expect(player?.hasAttribute("crossorigin")).toBe(false);
  });

  it("signs again when a player fails, and swaps the URL in without a reload", async () => {
    const fresh = { ...audio, url: signed("joins.wav", "two"), captionsUrl: signed("joins.vtt", "two") };
    const fetched = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValue(answer({ items: [fresh], expiresAt: Date.now() + 600_000 }));
    const { container } = render(
      <LessonMedia lessonId={LESSON} initial={{ items: [audio], expiresAt: Date.now() + 600_000 }} ttlSeconds={600} />,
    );
    const player = container.querySelector("audio") as HTMLAudioElement;
    fireEvent.error(player);
    fireEvent.error(player); // a second failure of the same URL asks nothing more
    await waitFor(() => expect(player.getAttribute("src")).toBe(fresh.url));
    expect(fetched).toHaveBeenCalledTimes(1);
    expect(String(fetched.mock.calls[0]?.[0])).toBe(`/api/lesson_media?lesson_id=${LESSON}`);
    expect(player.querySelector("track")?.getAttribute("src")).toBe(fresh.captionsUrl);
  });

  it("says access ended, and shows no media, when the new answer holds none", async () => {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(answer({ items: [], expiresAt: null }));
    const { container } = render(
      <LessonMedia
        lessonId={LESSON}
        initial={{ items: [audio, image], expiresAt: Date.now() + 600_000 }}
        ttlSeconds={600}
      />,
    );
    fireEvent.error(container.querySelector("audio") as HTMLAudioElement);
    expect(await screen.findByRole("status")).toHaveProperty(
      "textContent",
      "Your access to this lesson's media has ended.",
    );
    expect(container.querySelector("audio")).toBeNull();
    expect(screen.queryByRole("img")).toBeNull();
  });

  it("keeps what it shows when the route cannot answer", async () => {
    const fetched = vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response("{}", { status: 503 }));
    const { container } = render(
      <LessonMedia lessonId={LESSON} initial={{ items: [image], expiresAt: Date.now() + 600_000 }} ttlSeconds={600} />,
    );
    fireEvent.error(screen.getByRole("img", { name: image.title }));
    await waitFor(() => expect(fetched).toHaveBeenCalledTimes(1));
    expect(container.querySelector("img")?.getAttribute("src")).toBe(image.url);
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("signs again a minute before the URLs run out", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const now = Date.now();
    const fresh = { ...image, url: signed("diagram.png", "two") };
    const fetched = vi
      .spyOn(globalThis, "fetch")
      .mockResolvedValue(answer({ items: [fresh], expiresAt: now + 1_200_000 }));
    render(<LessonMedia lessonId={LESSON} initial={{ items: [image], expiresAt: now + 600_000 }} ttlSeconds={600} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(539_000);
    });
    expect(fetched).not.toHaveBeenCalled();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1_000);
    });
    expect(fetched).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("img", { name: image.title }).getAttribute("src")).toBe(fresh.url);
  });
});
