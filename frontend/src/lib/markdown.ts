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

const processor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRehype)
  .use(rehypeSlug)
  .use(rehypeHighlight, { detect: false })
  .use(rehypeSanitize, schema)
  .use(rehypeStringify);

// Parsing is about 0.5 MB/s, so a long lesson would cost every request its parse: keep the most
// recent renders, keyed by the source itself (a Map keeps insertion order, so the first key is the
// least recently used one).
const CACHE_ENTRIES = 64;
const cache = new Map<string, string>();

/** Safe HTML for `dangerouslySetInnerHTML`, from Markdown that may come from anyone. */
export function renderMarkdown(source: string): string {
  const cached = cache.get(source);
  if (cached !== undefined) {
    cache.delete(source);
    cache.set(source, cached);
    return cached;
  }
  const html = String(processor.processSync(source));
  cache.set(source, html);
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  return html;
}
