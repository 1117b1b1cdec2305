// The signed-in learner's menu in the header: one button (their initial and "Account") that
// discloses who is signed in, Purchases (on a phone; wider screens show it in the bar), Account
// settings and Sign out. A disclosure, not an ARIA menu: a button with aria-expanded and the
// panel it controls, links and a button inside reached with Tab. Escape closes it and returns
// the focus to the button; a click or tap outside, the focus leaving it, or a navigation
// closes it. Nothing depends on hover.
import Link from "next/link";
import { useRouter } from "next/router";
import { useEffect, useId, useRef, useState, type FocusEvent } from "react";

import styles from "./AccountMenu.module.css";

export function AccountMenu({
  email,
  onSignOut,
  leaving,
}: {
  email: string | null;
  onSignOut(): void;
  leaving: boolean;
}) {
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const router = useRouter();

  useEffect(() => {
    const close = () => setOpen(false);
    router.events?.on("routeChangeStart", close);
    return () => router.events?.off("routeChangeStart", close);
  }, [router.events]);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      setOpen(false);
      toggle.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);

  const onBlur = (event: FocusEvent<HTMLDivElement>) => {
    const next = event.relatedTarget as Node | null;
    if (next && !root.current?.contains(next)) setOpen(false);
  };

  const initial = (email ?? "").trim().charAt(0).toUpperCase() || "?";
  return (
    <div className={styles.root} ref={root} onBlur={onBlur}>
      <button
        ref={toggle}
        type="button"
        className={styles.toggle}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((was) => !was)}
      >
        <span className={styles.initial} aria-hidden="true">
          {initial}
        </span>
        <span className={styles.label}>Account</span>
      </button>
      <div id={panelId} className={styles.panel} hidden={!open}>
        <p className={styles.who}>
          Signed in as <span className={styles.email}>{email}</span>
        </p>
        <ul className={styles.items}>
          <li className={styles.phoneOnly}>
            <Link href="/profile">Purchases</Link>
          </li>
          <li>
            <Link href="/account">Account settings</Link>
          </li>
        </ul>
        <button type="button" className={styles.signOut} onClick={onSignOut} disabled={leaving}>
          Sign out
        </button>
      </div>
    </div>
  );
}
