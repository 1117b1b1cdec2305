import { describe, expect, it } from "vitest";

import { renderDocument, renderMarkdown } from "@/lib/markdown";

describe("renderMarkdown", () => {
  it("renders headings with prefixed anchors, lists, tables and highlighted code", () => {
    const html = renderMarkdown(
      "# Joins without fear\n\n- one\n- two\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```sql\nselect 1 from lessons;\n```\n",
    );
    expect(html).toContain('<h1 id="user-content-joins-without-fear">Joins without fear</h1>');
    expect(html).toContain("<li>one</li>");
    expect(html).toContain("<table>");
    expect(html).toContain('<code class="hljs language-sql">');
    expect(html).toContain('<pre tabindex="0"><code class="hljs language-sql">');
    expect(html).toContain('<span class="hljs-keyword">select</span>');
  });

  it("drops raw HTML, script and event handlers", () => {
    const html = renderMarkdown(
      'Hello <script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n<iframe src="https://evil.example"></iframe>\n\n<b onclick="x()">bold</b>',
    );
    expect(html).not.toMatch(/<script|<img|<iframe|onerror|onclick|<b[ >]/i);
    expect(html).toContain("Hello");
  });

  it("keeps no javascript: or data: link and no unsafe image source", () => {
    const html = renderMarkdown(
      "[click](javascript:alert(1)) [x](JaVaScRiPt:alert(1)) [d](data:text/html,<script>alert(1)</script>) ![i](javascript:alert(1))",
    );
    expect(html).not.toMatch(/javascript:|data:text/i);
  });

  it("keeps safe links", () => {
    const html = renderMarkdown("[docs](https://www.postgresql.org/docs/) and <mailto:help@example.com>");
    expect(html).toContain('<a href="https://www.postgresql.org/docs/">docs</a>');
  });

  it("cannot clobber globals with a heading id", () => {
    const html = renderMarkdown("# cookie\n\n## location\n");
    expect(html).not.toMatch(/id="(cookie|location)"/);
    expect(html).toContain('id="user-content-cookie"');
  });

  // generous timeouts: parsing runs at about 0.5 MB/s and this machine is shared
  it("renders a 1 MB body", { timeout: 60_000 }, () => {
    const big = renderMarkdown("word ".repeat(210_000));
    expect(big.length).toBeGreaterThan(1_000_000);
    expect(big.startsWith("<p>word word")).toBe(true);
  });

  it("renders 10,000 headings", { timeout: 60_000 }, () => {
    const many = renderMarkdown(Array.from({ length: 10_000 }, (_, i) => `## Part ${i}`).join("\n\n"));
    expect(many.match(/<h2 /g)).toHaveLength(10_000);
    expect(many).toContain('id="user-content-part-9999"');
  });
});

describe("renderMarkdown's cache", () => {
  it("answers the same source with the same HTML, and a changed source anew", () => {
    expect(renderMarkdown("# One")).toBe(renderMarkdown("# One"));
    expect(renderMarkdown("# Two")).toContain("Two");
    for (let i = 0; i < 100; i++) renderMarkdown(`text ${i}`);
    expect(renderMarkdown("# One")).toContain('id="user-content-one"');
  });
});

describe("renderDocument's sections", () => {
  it("lists the h2 headings with the ids the HTML carries, as plain text", () => {
    const { html, sections } = renderDocument(
      "Lead.\n\n## Inner *joins*\n\ntext\n\n### not a section\n\n## Left joins\n\n## Left joins\n",
    );
    expect(sections).toEqual([
      { id: "user-content-inner-joins", title: "Inner joins" },
      { id: "user-content-left-joins", title: "Left joins" },
      { id: "user-content-left-joins-1", title: "Left joins" },
    ]);
    for (const { id } of sections) expect(html).toContain(`id="${id}"`);
  });

  it("takes nothing from raw HTML headings", () => {
    expect(renderDocument('<h2 id="x">Raw</h2>\n\n## Real').sections).toEqual([
      { id: "user-content-real", title: "Real" },
    ]);
  });
});
