// A paid lesson's page sells it (who wrote it, the level, the time, what it covers, a free
// preview, one primary action naming the lesson and its price); once bought, the reader shows
// the Markdown body with its contents and highlighted code, remembers where the learner
// stopped, and links the other lessons they may read.
import { expect, test, JOINS, RLS, Steps, expectAccessible, expectHostedCheckout, newEmail, signUp } from "./support";

const LESSON_URL = `/lessons/${JOINS.slug}`;

async function noSidewaysScroll(page: import("@playwright/test").Page, where: string) {
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), where).toBe(true);
}

for (const width of [390, 1280]) {
  test(`a paid lesson sells, then reads and remembers, at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    const steps = new Steps(page, test.info());

    await page.goto(LESSON_URL);
    await expect(page.getByText("By Ada Lindqvist · Beginner · 25 min")).toBeVisible();
    const covers = page.getByRole("region", { name: "What this lesson covers" });
    await expect(covers.getByRole("listitem")).toHaveText([
      "What a join does",
      "Inner joins",
      "Left joins and the missing rows",
      "Lateral joins",
      "Exercises",
    ]);
    await expect(page.getByRole("region", { name: "Free preview" })).toContainText(
      "A join puts two tables side by side",
    );
    await expect(page.getByText("An inner join keeps the rows that match")).toHaveCount(0);
    const buy = page.getByRole("button", { name: `Buy ${JOINS.title} — ${JOINS.price}`, exact: true });
    await expect(buy).toBeVisible();
    await noSidewaysScroll(page, "the paid lesson, signed out");
    await expectAccessible(page, "the paid lesson, signed out");
    await steps.shot("paid-lesson-signed-out");

    await signUp(page, newEmail(`reader-${width}`), LESSON_URL);
    await expect(page).toHaveURL(new RegExp(`${LESSON_URL}$`));
    await buy.click();
    await expectHostedCheckout(page, JOINS);
    await page.getByRole("button", { name: "Pay", exact: true }).click();
    await expect(page.getByText(/Purchase complete/)).toBeVisible();
    await page.goto(LESSON_URL);

    const article = page.getByRole("article", { name: JOINS.title });
    await expect(article).toContainText("An inner join keeps the rows that match");
    await expect(article.locator("pre code.language-sql .hljs-keyword").first()).toHaveText("select");
    const contents = page.getByRole("navigation", { name: "Contents" });
    await expect(contents.getByRole("link", { name: "Lateral joins" })).toHaveAttribute(
      "href",
      "#user-content-lateral-joins",
    );
    await expect(page.getByRole("navigation", { name: "Your other lessons" }).getByRole("link")).toHaveText(
      /Previous\s*Welcome to SQL/,
    );
    await noSidewaysScroll(page, "the reader");
    await expectAccessible(page, "the reader");
    await steps.shot("reader");

    // read down to a section: the reader records it, and a later visit offers to go back there
    const saved = page.waitForResponse((r) => r.url().endsWith("/api/progress") && r.request().method() === "POST");
    await page.getByRole("heading", { level: 2, name: "Lateral joins" }).evaluate((h) => {
      window.scrollTo(0, h.getBoundingClientRect().top + window.scrollY - 40);
    });
    const answer = await saved;
    expect(answer.status()).toBe(204);
    // the section whose heading crossed the top third of the window: this one, or on a tall
    // window the short one after it
    const section = (JSON.parse(answer.request().postData() ?? "{}") as { section?: string }).section;
    const titles: Record<string, string> = {
      "user-content-lateral-joins": "Lateral joins",
      "user-content-exercises": "Exercises",
    };
    expect(Object.keys(titles)).toContain(section);
    await page.reload();
    const resume = contents.getByRole("link", { name: `Continue where you stopped: ${titles[section ?? ""]}` });
    await expect(resume).toBeVisible();
    await steps.shot("reader-resume");
    await resume.click();
    await expect(page).toHaveURL(new RegExp(`#${section}$`));
  });
}

test("the progress route answers this site's pages only, as JSON, for lessons the learner may read", async ({
  page,
}) => {
  await signUp(page, newEmail("progress-route"));
  const lessonIdOf = (slug: string) =>
    page.evaluate(async (slug) => {
      const html = await (await fetch(`/lessons/${slug}`)).text();
      const data = new DOMParser().parseFromString(html, "text/html").getElementById("__NEXT_DATA__")?.textContent;
      return (JSON.parse(data ?? "{}") as { props?: { pageProps?: { lesson?: { id?: string } } } }).props?.pageProps
        ?.lesson?.id as string;
    }, slug);
  const lessonId = await lessonIdOf("welcome-to-sql");
  expect(lessonId).toMatch(/^[0-9a-f-]{36}$/);
  // from the page itself, as the reader calls it (the browser sets Origin and Sec-Fetch-Site)
  const post = (body: string, contentType = "application/json") =>
    page.evaluate(
      async ([body, contentType]) => {
        const answer = await fetch("/api/progress", { method: "POST", headers: { "Content-Type": contentType }, body });
        return { status: answer.status, text: await answer.text() };
      },
      [body, contentType],
    );

  const first = await post(JSON.stringify({ lesson_id: lessonId, section: "x" }));
  expect(first.status, first.text).toBe(204);
  // another site's page: the browser says so, and the learner's cookie rides along in vain
  const foreign = await page.request.post("/api/progress", {
    data: JSON.stringify({ lesson_id: lessonId, section: "x" }),
    headers: { "Content-Type": "application/json", Origin: "http://evil.example", "Sec-Fetch-Site": "cross-site" },
  });
  expect(foreign.status()).toBe(403);
  expect((await foreign.json()).error.code).toBe("cross_site_request");
  const plain = await post(JSON.stringify({ lesson_id: lessonId, section: "x" }), "text/plain");
  expect(plain.status).toBe(403);
  expect(JSON.parse(plain.text).error.code).toBe("unsupported_content_type");
  expect((await post(JSON.stringify({ lesson_id: "nope", section: "x" }))).status).toBe(422);
  expect((await post(JSON.stringify({ lesson_id: lessonId, section: "x".repeat(201) }))).status).toBe(422);

  const rlsId = await lessonIdOf(RLS.slug);
  const refused = await post(JSON.stringify({ lesson_id: rlsId, section: "why-rls" }));
  expect(refused.status).toBe(403);
  expect(JSON.parse(refused.text).error.code).toBe("not_readable");
});
