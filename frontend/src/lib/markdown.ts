// Markdown to HTML on the server only (getServerSideProps), so no parser or highlighter reaches
// the browser. Raw HTML in the source is dropped (remark-rehype without allowDangerousHtml), and
// rehype-sanitize runs last on what the other plugins made: only GitHub's allow-list of elements
// and attributes survives, links keep only safe protocols (no javascript:), and every id is
// prefixed with `user-content-` so a heading can never clobber a global the page's scripts use.
import rehypeHighlight from "rehype-highlight";
import rehypeSanitize, { defaultSchema, type Options as SanitizeSchema } from "rehype-sanitize";
import rehypeSlug from "rehype-slug";
import rehypeStringify from "rehype-stringify";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import remarkRehype from "remark-rehype";
import { unified } from "unified";

/** What a heading's id becomes after sanitising: link to it with `#${HEADING_ID_PREFIX}${slug}`. */
export const HEADING_ID_PREFIX = "user-content-";

const schema: SanitizeSchema = {
  ...defaultSchema,
  attributes: {
    ...defaultSchema.attributes,
    // highlight.js token classes on code and spans, nothing else
    code: [["className", /^language-./, "hljs"]],
    span: [...(defaultSchema.attributes?.span ?? []), ["className", /^hljs-/]],
  },
};

/** A second-level heading of a rendered body: its id (as sanitised) and its text. */
export type Section = { id: string; title: string };

type HastNode = {
  type: string;
  tagName?: string;
  value?: string;
  properties?: { id?: unknown; tabIndex?: number };
  children?: HastNode[];
};

function textOf(node: HastNode): string {
  if (node.type === "text") return node.value ?? "";
  return (node.children ?? []).map(textOf).join("");
}

// After sanitising: the body's own h2 headings, in order, for the reader's table of contents.
function collectSections() {
  return (tree: HastNode, file: { data: Record<string, unknown> }) => {
    const sections: Section[] = [];
    for (const node of tree.children ?? []) {
      if (node.type === "element" && node.tagName === "h2" && typeof node.properties?.id === "string") {
        sections.push({ id: node.properties.id, title: textOf(node).trim() });
      }
    }
    file.data.sections = sections;
  };
}

// A code block wider than the screen scrolls sideways: make it focusable (after sanitising, so the
// attribute is ours), so a keyboard can scroll it too.
function focusableCodeBlocks() {
  const visit = (node: HastNode) => {
    if (node.type === "element" && node.tagName === "pre") node.properties = { ...node.properties, tabIndex: 0 };
    for (const child of node.children ?? []) visit(child);
  };
  return visit;
}

const processor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRehype)
  .use(rehypeSlug)
  .use(rehypeHighlight, { detect: false })
  .use(rehypeSanitize, schema)
  .use(collectSections)
  .use(focusableCodeBlocks)
  .use(rehypeStringify);

// Parsing is about 0.5 MB/s, so a long lesson would cost every request its parse: keep the most
// recent renders, keyed by the source itself (a Map keeps insertion order, so the first key is the
// least recently used one).
const CACHE_ENTRIES = 64;
const cache = new Map<string, Rendered>();

export type Rendered = { html: string; sections: Section[] };

/** Safe HTML and the h2 sections, from Markdown that may come from anyone. */
export function renderDocument(source: string): Rendered {
  const cached = cache.get(source);
  if (cached !== undefined) {
    cache.delete(source);
    cache.set(source, cached);
    return cached;
  }
  const file = processor.processSync(source);
  const rendered = { html: String(file), sections: (file.data.sections as Section[] | undefined) ?? [] };
  cache.set(source, rendered);
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  return rendered;
}

/** Safe HTML for `dangerouslySetInnerHTML`, from Markdown that may come from anyone. */
export function renderMarkdown(source: string): string {
  return renderDocument(source).html;
}
