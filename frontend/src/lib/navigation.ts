/** A `next=` target we may send the learner to: a path on this site, else the catalogue. */
export function safeNext(value: unknown, fallback = "/lessons"): string {
  if (typeof value !== "string") return fallback;
  // "/x" yes; "//host", "/\host" (protocol-relative in browsers) and control characters no
  if (!/^\/(?![/\\])/.test(value) || /[\u0000-\u001f\u007f]/.test(value)) return fallback;
  return value;
}

/** Where a signed-out learner is sent before an action on `path`. */
export function signInPath(path: string): string {
  return `/login?next=${path}`;
}
