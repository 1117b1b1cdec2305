// What every browser test shares: the stack's addresses, screenshots of each step, axe scans,
// learners, and the Stripe stand-in's API (as Stripe's dashboard or an operator would use it).
import fs from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type BrowserContext, type Locator, type Page, type TestInfo } from "@playwright/test";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with \`make e2e\``);
  return value;
}

export const stack = {
  stripe: required("E2E_STRIPE_URL"),
  stripeKey: required("E2E_STRIPE_SECRET_KEY"),
  supabase: required("E2E_SUPABASE_URL"),
  anonKey: required("E2E_SUPABASE_ANON_KEY"),
  secretKey: required("E2E_SUPABASE_SECRET_KEY"),
  control: required("E2E_CONTROL_URL"),
  site: new URL(required("E2E_BASE_URL")).origin,
  mail: required("E2E_MAIL_URL"),
};

/**
 * Playwright's test, failing any test during which a page of this site logged a Content
 * Security Policy violation (Chromium reports each one to the console). Specs import it from here.
 */
export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: [
    async ({ context, baseURL }, use) => {
      const site = new URL(baseURL ?? required("E2E_BASE_URL")).origin;
      const seen: string[] = [];
      context.on("console", (message) => {
        const from = message.page()?.url() ?? "";
        if (/content.security.policy/i.test(message.text()) && from.startsWith(site)) {
          seen.push(`${from}: ${message.text()}`);
        }
      });
      await use(seen);
      expect(seen, "Content Security Policy violations in the console").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

// the runner starts Playwright in frontend/
export const ARTIFACTS = path.join(process.cwd(), "e2e", "artifacts");

export type Lesson = { slug: string; title: string; price: string };

// from supabase/seed.sql
export const JOINS: Lesson = { slug: "joins-without-fear", title: "Joins without fear", price: "$12.00" };
export const RLS: Lesson = { slug: "row-level-security", title: "Row level security in practice", price: "$25.00" };
export const WEBHOOKS: Lesson = {
  slug: "stripe-webhooks",
  title: "Stripe webhooks that never lose a payment",
  price: "$19.00",
};
export const EUROS: Lesson = {
  slug: "transactions-and-isolation",
  title: "Transactions and isolation",
  price: "€15.00",
};
export const YEN: Lesson = { slug: "indexes-explained", title: "Indexes, explained", price: "¥1,800" };
export const FREE: Lesson = { slug: "welcome-to-sql", title: "Welcome to SQL", price: "Free" };

export const PASSWORD = "a-long-learner-password";

export function newEmail(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** Screenshots of each step, numbered, under e2e/artifacts/<test>/ (ignored by git). */
export class Steps {
  private n = 0;
  private readonly dir: string;

  constructor(
    private readonly page: Page,
    info: TestInfo,
  ) {
    const slug = info.title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    this.dir = path.join(ARTIFACTS, slug);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
  }

  async shot(name: string, page: Page = this.page): Promise<void> {
    this.n += 1;
    const file = `${String(this.n).padStart(2, "0")}-${name}.png`;
    await page.screenshot({ path: path.join(this.dir, file), fullPage: true });
  }
}

/** axe-core on the page as it is now: no serious or critical violation. */
export async function expectAccessible(page: Page, where: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(bad, `axe on ${where} (${page.url()})`).toEqual([]);
}

export function card(page: Page, lesson: Lesson): Locator {
  return page.getByRole("article", { name: lesson.title });
}

/** The page's alerts: errors shown to the learner (not Next.js's route announcer, an empty or
 * page-title `role="alert"` region that every Next.js page carries for screen readers). */
export function alerts(page: Page): Locator {
  return page.getByRole("alert").and(page.locator(":not(#__next-route-announcer__)"));
}

export function notification(page: Page): Locator {
  return page.getByRole("status").filter({ hasText: /\S/ });
}

export async function signUp(page: Page, email: string, next = "/lessons"): Promise<void> {
  await page.goto(`/signup?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => url.pathname + url.search === next);
  await expectSignedInAs(page, email);
}

/** The header's account button (a disclosure: aria-expanded, aria-controls its panel). */
export function accountButton(page: Page): Locator {
  return page.getByRole("navigation", { name: "Main" }).getByRole("button", { name: "Account", exact: true });
}

/** Open the header's account menu (by click or tap: nothing needs hover); its panel. */
export async function openAccountMenu(page: Page): Promise<Locator> {
  const toggle = accountButton(page);
  const panel = page.locator(`[id="${await toggle.getAttribute("aria-controls")}"]`);
  // a navigation still under way closes the menu it lands on: open it again until it stays
  await expect(async () => {
    if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "true", { timeout: 1000 });
    await expect(panel).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 10_000 });
  return panel;
}

/** The header says who is signed in: its account menu shows the email; Escape closes the menu
 * and puts the focus back on its button. */
export async function expectSignedInAs(page: Page, email: string): Promise<void> {
  const panel = await openAccountMenu(page);
  await expect(panel.getByText(email, { exact: true })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(accountButton(page)).toHaveAttribute("aria-expanded", "false");
  await expect(panel).toBeHidden();
  await expect(accountButton(page)).toBeFocused();
}

/** Sign out through the account menu. */
export async function signOut(page: Page): Promise<void> {
  const panel = await openAccountMenu(page);
  await panel.getByRole("button", { name: "Sign out" }).click();
}

/** An account made through the Supabase Auth API, as if the learner had signed up earlier. */
export async function existingLearner(email: string): Promise<string> {
  const res = await fetch(`${stack.supabase}/auth/v1/signup`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return learnerId(email);
}

export async function learnerId(email: string): Promise<string> {
  const res = await fetch(`${stack.supabase}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { apikey: stack.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { user: { id: string } };
  return body.user.id;
}

type StripeObject = Record<string, unknown>;

/** The Stripe stand-in's API with the secret key, form-encoded like Stripe's. */
export async function stripe(
  method: "GET" | "POST",
  route: string,
  form?: Record<string, string>,
): Promise<StripeObject> {
  const res = await fetch(`${stack.stripe}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${stack.stripeKey}`,
      ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const body = (await res.json()) as StripeObject;
  expect(res.ok, JSON.stringify(body)).toBe(true);
  return body;
}

/** Every Checkout Session the stand-in holds for this learner (metadata.user_id). */
export async function sessionsOf(userId: string): Promise<StripeObject[]> {
  const list = (await stripe("GET", "/v1/checkout/sessions?limit=100")) as { data: StripeObject[] };
  return list.data.filter((s) => (s.metadata as Record<string, string>).user_id === userId);
}

/** Settle a delayed payment as the bank would, while the learner waits on our page. */
export async function settleDelayed(sessionId: string, outcome: "delayed_succeed" | "delayed_fail"): Promise<void> {
  const res = await fetch(`${stack.stripe}/c/pay/${sessionId}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ action: outcome }).toString(),
    redirect: "manual",
  });
  expect(res.status).toBe(303);
}

/** A dispute on a payment, through the stand-in's test control (`charge.dispute.created`); its id. */
export async function disputeOpened(paymentIntent: string): Promise<string> {
  const res = await fetch(`${stack.stripe}/_standin/disputes`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payment_intent: paymentIntent }),
  });
  expect(res.ok, await res.clone().text()).toBe(true);
  return String(((await res.json()) as StripeObject).id);
}

/** The bank decides a dispute (`charge.dispute.closed`): "won" for the shop, "lost" for it. */
export async function disputeClosed(disputeId: string, outcome: "won" | "lost"): Promise<void> {
  const res = await fetch(`${stack.stripe}/_standin/disputes/${disputeId}/close`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ outcome }),
  });
  expect(res.ok, await res.clone().text()).toBe(true);
}

/** The PaymentIntent of a Checkout Session, as Stripe holds it. */
export async function paymentIntentOf(sessionId: string): Promise<string> {
  const session = await stripe("GET", `/v1/checkout/sessions/${sessionId}`);
  return String(session.payment_intent);
}

/** Stop or start a part of the stack through the runner's control server. */
export async function part(name: "sidecar" | "stripe", verb: "stop" | "start"): Promise<void> {
  const res = await fetch(`${stack.control}/${name}/${verb}`, { method: "POST" });
  expect(res.status, `${name} ${verb}`).toBe(204);
}

export async function sidecar(verb: "stop" | "start"): Promise<void> {
  await part("sidecar", verb);
}

/** Where Checkout sends the learner back after paying: the lesson's own page. */
export function returnedTo(lesson: Lesson): RegExp {
  return new RegExp(`/lessons/${lesson.slug}\\?checkout=success&session_id=cs_`);
}

/** Where Checkout's cancel link (and the stand-in's Expire) sends the learner: the lesson's page. */
export function cancelledTo(lesson: Lesson): RegExp {
  return new RegExp(`/lessons/${lesson.slug}\\?checkout=cancelled$`);
}

/** The Checkout Session id our return URL carries (`?checkout=success&session_id=cs_…`). */
export function returnedSession(page: Page): string {
  const id = new URL(page.url()).searchParams.get("session_id");
  expect(id).toMatch(/^cs_/);
  return id as string;
}

/** On the stand-in's hosted Checkout page. */
export async function expectHostedCheckout(page: Page, lesson: Lesson): Promise<void> {
  await expect(page).toHaveURL(new RegExp(`^${stack.stripe}/c/pay/cs_`));
  await expect(page.getByRole("heading", { level: 1, name: lesson.title })).toBeVisible();
}

/** Press Tab until `target` has the focus (a keyboard user's way there); fails if it never does. */
export async function tabTo(page: Page, target: Locator, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) {
      // and a sighted keyboard user can see where they are
      const ring = await target.evaluate((el) => {
        const style = getComputedStyle(el);
        const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
        return el.matches(":focus-visible") && (outline || style.boxShadow !== "none");
      });
      expect(ring, `${target.toString()} shows a focus ring`).toBe(true);
      return;
    }
  }
  throw new Error(`Tab never reached ${target.toString()} within ${limit} presses`);
}

/** Measurements the runner prints at the end (e2e/artifacts/timings.json). */
export function record(name: string, milliseconds: number): void {
  const file = path.join(ARTIFACTS, "timings.json");
  const all = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, number>) : {};
  all[name] = milliseconds;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(all, null, 2));
}

/** A write through Supabase's REST API with the secret key, as the shop's operator (or the
 * dashboard) makes it: service_role, so grants and RLS let it through. Returns the rows written. */
export async function operatorWrite(
  method: "POST" | "PATCH",
  route: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${stack.supabase}/rest/v1/${route}`, {
    method,
    headers: {
      apikey: stack.secretKey,
      "content-type": "application/json",
      prefer: "return=representation",
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.ok, `${method} ${route}: ${text}`).toBe(true);
  return JSON.parse(text) as Record<string, unknown>[];
}

/** The access token of the session the site keeps in this browser's cookie (one cookie or
 * its `.0`, `.1`, … chunks, `base64-` + base64url JSON, as @supabase/ssr writes it). */
export async function cookieAccessToken(context: BrowserContext): Promise<string> {
  const key = `sb-${new URL(stack.supabase).hostname.split(".")[0]}-auth-token`;
  const cookies = new Map((await context.cookies()).map((c) => [c.name, c.value]));
  let raw = cookies.get(key);
  if (raw === undefined) {
    raw = "";
    for (let i = 0; cookies.has(`${key}.${i}`); i += 1) raw += cookies.get(`${key}.${i}`);
  }
  const text = raw.startsWith("base64-") ? Buffer.from(raw.slice(7), "base64url").toString("utf8") : raw;
  const session = JSON.parse(text) as { access_token: string };
  return session.access_token;
}

/** The `kid` a JWT's header names. */
export function keyId(token: string): string {
  const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as { kid?: string };
  expect(header.kid, "the token names its signing key").toBeTruthy();
  return header.kid as string;
}

/** The key ids the project publishes at /auth/v1/.well-known/jwks.json. */
export async function publishedKeyIds(): Promise<string[]> {
  const res = await fetch(`${stack.supabase}/auth/v1/.well-known/jwks.json`, { headers: { apikey: stack.anonKey } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { keys: { kid: string }[] };
  return body.keys.map((k) => k.kid);
}

/** The Supabase stand-in's signing-key control, as the dashboard's "create standby key" and
 * "rotate keys" buttons: the kid it made current (rotate) or published for later (standby). */
export async function signingKeys(verb: "standby" | "rotate"): Promise<string> {
  const res = await fetch(`${stack.supabase}/_standin/signing-keys/${verb}`, { method: "POST" });
  const body = (await res.json()) as { current_kid?: string; standby_kid?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return (verb === "rotate" ? body.current_kid : body.standby_kid) as string;
}

type MailSummary = { ID: string; To: { Address: string }[]; Subject: string };

/** The newest mail to `email` in the outbox, read through Mailpit's API as a test reads it
 * (waits for it to arrive): its subject and HTML body. */
export async function newestMailTo(
  email: string,
  after: Set<string> = new Set(),
): Promise<{ id: string; subject: string; html: string }> {
  let found: MailSummary | undefined;
  await expect(async () => {
    const res = await fetch(`${stack.mail}/api/v1/messages`);
    const list = (await res.json()) as { messages: MailSummary[] };
    found = list.messages.find((m) => m.To.some((to) => to.Address === email) && !after.has(m.ID));
    expect(found, `a mail to ${email}`).toBeDefined();
  }).toPass({ timeout: 10_000 });
  const res = await fetch(`${stack.mail}/api/v1/message/${found!.ID}`);
  const whole = (await res.json()) as { ID: string; Subject: string; HTML: string };
  return { id: whole.ID, subject: whole.Subject, html: whole.HTML };
}

/** The first link in a mail's HTML that goes to `path`, with its entities decoded. */
export function linkIn(html: string, path: string): string {
  const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&"));
  const link = hrefs.find((href) => new URL(href).pathname === path);
  expect(link, `a link to ${path} in ${html}`).toBeDefined();
  return link!;
}
