// A page on another port of this host (same-site, so a signed-in learner's SameSite=Lax cookies
// ride along) tries to open a Checkout Session through the API route: refused, none opened.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { expect, test, JOINS, learnerId, newEmail, sessionsOf, signUp, stack } from "./support";

let other: { server: Server; url: string };

test.beforeAll(async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html lang=en><title>Another site</title><h1>Another site</h1></html>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  other = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => other.server.close(() => resolve()));
});

async function lessonId(slug: string): Promise<string> {
  const res = await fetch(`${stack.supabase}/rest/v1/rpc/lesson_catalog?slug=eq.${slug}&select=id`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: "{}",
  });
  const rows = (await res.json()) as { id: string }[];
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

test("a page on another origin cannot open a Checkout Session for a signed-in learner", async ({ page, baseURL }) => {
  const email = newEmail("csrf");
  await signUp(page, email);
  const learner = await learnerId(email);
  const lesson = await lessonId(JOINS.slug);
  const route = `${baseURL}/api/stripe/checkout_session`;

  await page.goto(other.url);
  // a simple request (no preflight): text/plain with the exact JSON body, cookies included
  const refused = page.waitForResponse((r) => r.url() === route && r.request().method() === "POST");
  await page.evaluate(
    ([url, body]) =>
      fetch(url, { method: "POST", mode: "no-cors", credentials: "include", body }).then(() => undefined),
    [route, JSON.stringify({ lesson_id: lesson })] as const,
  );
  expect((await refused).status()).toBe(403);

  // a form post, as an old-school attack would
  const formRefused = page.waitForResponse((r) => r.url() === route && r.request().method() === "POST");
  await page.evaluate(
    ([url, id]) => {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = url;
      form.enctype = "text/plain";
      const input = document.createElement("input");
      input.name = `{"lesson_id":"${id}","x":"`;
      input.value = '"}';
      form.append(input);
      document.body.append(form);
      form.submit();
    },
    [route, lesson] as const,
  );
  const form = await formRefused;
  expect(form.status()).toBe(403);
  expect(await form.json()).toMatchObject({ error: { code: "cross_site_request" } });

  // a JSON fetch needs CORS, which the route never grants: the browser does not send it
  await page.goto(other.url); // the form's post left for the route's 403
  const blocked = await page.evaluate(
    (url) =>
      fetch(url, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: "{}",
      })
        .then(() => "sent")
        .catch(() => "blocked"),
    route,
  );
  expect(blocked).toBe("blocked");

  expect(await sessionsOf(learner)).toEqual([]);
});
