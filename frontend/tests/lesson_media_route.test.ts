// The reader's re-signing route under a real HTTP server, talking over a real socket to a
// Supabase stand-in that answers PostgREST's and storage-api's shapes: who may call it, and
// that it signs each file again for MEDIA_URL_TTL_SECONDS.
import type { ServerResponse } from "node:http";

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import handler from "@/pages/api/lesson_media";

import { json, serve, type Recorded, type Running } from "./servers";

const LESSON = "00000000-0000-4000-8000-000000000002";
const SITE = "http://127.0.0.1:3000";

let supabase: Running;
let route: Running;
let rows: unknown[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  supabase = await serve((req: Recorded, res: ServerResponse) => {
    if (req.url.startsWith("/rest/v1/lesson_media")) return json(res, 200, rows);
    const sign = /^\/storage\/v1\/object\/sign\/lesson-media\/(.+)$/.exec(req.url);
    if (req.method === "POST" && sign) {
      return json(res, 200, { signedURL: `/object/sign/lesson-media/${sign[1]}?token=t` });
    }
    json(res, 404, { message: "not here" });
  });
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  route = {
    url: `http://127.0.0.1:${port}`,
    requests: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  Object.assign(process.env, { SUPABASE_URL: supabase.url, SUPABASE_ANON_KEY: "anon-key", SITE_URL: SITE });
});

afterEach(() => {
  supabase.requests.length = 0;
  delete process.env.MEDIA_URL_TTL_SECONDS;
});

afterAll(async () => {
  process.env = saved;
  await route.close();
  await supabase.close();
});

function get(query: string, headers: Record<string, string> = { Origin: SITE }) {
  return fetch(`${route.url}/api/lesson_media${query}`, { headers });
}

describe("/api/lesson_media", () => {
  it("answers GET only", async () => {
    const response = await fetch(`${route.url}/api/lesson_media?lesson_id=${LESSON}`, {
      method: "POST",
      headers: { Origin: SITE },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });

  it("answers this site's pages only", async () => {
    const refused: Record<string, string>[] = [
      {},
      { Origin: "https://evil.example" },
      { "Sec-Fetch-Site": "cross-site" },
    ];
    for (const headers of refused) {
      const response = await get(`?lesson_id=${LESSON}`, headers);
      expect(response.status).toBe(403);
      expect((await response.json()).error.code).toBe("cross_site_request");
    }
    expect(supabase.requests).toHaveLength(0);
  });

  it("wants exactly one lesson id", async () => {
    for (const query of ["", "?lesson_id=nope", `?lesson_id=${LESSON}&lesson_id=${LESSON}`, "?lesson_id=../x"]) {
      const response = await get(query);
      expect(response.status, query).toBe(422);
    }
    expect(supabase.requests).toHaveLength(0);
  });

  it("signs each file again for the configured TTL, never cached", async () => {
    process.env.MEDIA_URL_TTL_SECONDS = "120";
    rows = [
      {
        id: "a",
        kind: "audio",
        title: "Joins in two seconds",
        object_path: `${LESSON}/joins.wav`,
        captions_path: `${LESSON}/joins.vtt`,
        external_url: null,
        duration_seconds: 2,
        page_count: null,
      },
      {
        id: "p",
        kind: "pdf",
        title: "Joins: the notes",
        object_path: `${LESSON}/joins-notes.pdf`,
        captions_path: null,
        external_url: null,
        duration_seconds: null,
        page_count: 1,
      },
    ];
    const before = Date.now();
    const response = await get(`?lesson_id=${LESSON}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    const body = await response.json();
    expect(body.items.map((item: { url: string }) => item.url)).toEqual([
      `${supabase.url}/storage/v1/object/sign/lesson-media/${LESSON}/joins.wav?token=t`,
      `${supabase.url}/storage/v1/object/sign/lesson-media/${LESSON}/joins-notes.pdf?token=t&download=`,
    ]);
    expect(body.items[0].captionsUrl).toBe(
      `${supabase.url}/storage/v1/object/sign/lesson-media/${LESSON}/joins.vtt?token=t`,
    );
    expect(body.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(body.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    const signs = supabase.requests.filter((req) => req.url.startsWith("/storage/v1/object/sign/"));
    expect(signs).toHaveLength(3);
    for (const sign of signs) expect(JSON.parse(sign.body)).toEqual({ expiresIn: 120 });
    const read = supabase.requests.find((req) => req.url.startsWith("/rest/v1/lesson_media"));
    expect(decodeURIComponent(read?.url ?? "")).toContain(`lesson_id=eq.${LESSON}`);
  });

  it("answers no items when Storage signs nothing (access ended)", async () => {
    rows = [];
    const response = await get(`?lesson_id=${LESSON}`);
    expect(await response.json()).toEqual({ items: [], expiresAt: null });
  });
});
