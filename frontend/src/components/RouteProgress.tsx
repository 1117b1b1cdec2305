import { useRouter } from "next/router";
import { useEffect, useState } from "react";

import styles from "./RouteProgress.module.css";

// A page change that takes a moment (server-rendered pages wait for Postgres) shows a bar at the
// top after 150 ms, so a tap is seen to be taken; quick changes show nothing. When the new page
// is in, focus moves to its main heading, so keyboard and screen reader users start at the top
// of what changed rather than on the link they left.
const SHOW_AFTER_MS = 150;

export function RouteProgress() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = (_url: string, { shallow }: { shallow: boolean }) => {
      if (shallow) return;
      clearTimeout(timer);
      timer = setTimeout(() => setBusy(true), SHOW_AFTER_MS);
    };
    const stop = () => {
      clearTimeout(timer);
      setBusy(false);
    };
    const done = (_url: string, { shallow }: { shallow: boolean }) => {
      stop();
      if (!shallow) focusMainHeading();
    };
    router.events.on("routeChangeStart", start);
    router.events.on("routeChangeComplete", done);
    router.events.on("routeChangeError", stop);
    return () => {
      clearTimeout(timer);
      router.events.off("routeChangeStart", start);
      router.events.off("routeChangeComplete", done);
      router.events.off("routeChangeError", stop);
    };
  }, [router.events]);

  return busy ? <div className={styles.bar} role="progressbar" aria-label="Loading the page" /> : null;
}

/** Focus the page's first heading (made focusable by script only), unless a hash names a target. */
export function focusMainHeading(): void {
  if (window.location.hash) return;
  const heading = document.querySelector<HTMLElement>("main h1");
  if (!heading) return;
  if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}
