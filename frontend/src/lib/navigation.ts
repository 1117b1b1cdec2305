/** A `next=` target we may send the learner to: a path on this site, else the catalogue. */
export function safeNext(value: unknown, fallback = "/lessons"): string {
  if (typeof value !== "string") return fallback;
  // "/x" yes; "//host", "/\host" (protocol-relative in browsers) and control characters no
  if (!/^\/(?![/\\])/.test(value) || /[\u0000-\u001f\u007f]/.test(value)) return fallback;
  return value;
}

/** `page` with `?next=<path>` (encoded, so the path's own query string survives the trip). */
function withNext(page: "/login" | "/signup", path: string): string {
  return `${page}?next=${encodeURIComponent(path)}`;
}

/** Where a signed-out learner is sent before an action on `path`. */
export function signInPath(path: string): string {
  return withNext("/login", path);
}

/** The sign-up page that returns to `path`. */
export function signUpPath(path: string): string {
  return withNext("/signup", path);
}
