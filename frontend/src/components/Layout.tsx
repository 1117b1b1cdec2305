import Link from "next/link";
import { useRouter } from "next/router";
import { useEffect, useState, type ReactNode } from "react";

import { AccountMenu } from "@/components/AccountMenu";
import { ErrorBoundary } from "@/components/ErrorBoundary";
import { SHOP_NAME } from "@/components/PageHead";
import { RouteProgress } from "@/components/RouteProgress";
import { useAuth } from "@/context/AuthContext";
import { safeNext, signInPath, signUpPath } from "@/lib/navigation";

import notice from "./Notice.module.css";
import styles from "./Layout.module.css";

function Footer() {
  return (
    <footer className={styles.footer}>
      <nav aria-label="About the shop" className={styles.footerNav}>
        <Link href="/terms">Terms of sale</Link>
        <Link href="/refunds">Refund policy</Link>
        <Link href="/privacy">Privacy</Link>
        <Link href="/contact">Contact</Link>
      </nav>
      <p>Payments by Stripe. Your card details never reach this shop.</p>
    </footer>
  );
}

function Header() {
  const { user, checked, signOut } = useAuth();
  const router = useRouter();
  const [problem, setProblem] = useState<string | null>(null);
  const [signedOut, setSignedOut] = useState(false);
  const [leaving, setLeaving] = useState(false);
  const onAuthPage = ["/login", "/signup"].includes(router.pathname);
  const back = onAuthPage ? safeNext(router.query.next) : router.asPath;

  // "You're signed out" stays until the learner goes somewhere else or signs in again
  useEffect(() => {
    const clear = () => setSignedOut(false);
    router.events?.on("routeChangeStart", clear);
    return () => router.events?.off("routeChangeStart", clear);
  }, [router.events]);

  const leave = async () => {
    setProblem(null);
    setLeaving(true);
    const result = await signOut();
    setLeaving(false);
    if (!result.ok) {
      setProblem(result.message);
      return;
    }
    await router.replace(router.asPath, undefined, { scroll: false });
    setSignedOut(true);
  };

  return (
    <header className={styles.header}>
      <div className={styles.bar}>
        <Link href="/lessons" className={styles.brand}>
          <svg aria-hidden="true" viewBox="0 0 32 32" width="28" height="28">
            <rect width="32" height="32" rx="7" fill="#1d4e89" />
            <path d="M8 9.5c3-1.2 5.7-1 8 .8 2.3-1.8 5-2 8-.8v13c-3-1.2-5.7-1-8 .8-2.3-1.8-5-2-8-.8z" fill="#fff" />
            <path d="M16 10.3v13" stroke="#1d4e89" strokeWidth="1.4" />
          </svg>
          {SHOP_NAME}
        </Link>
        <nav aria-label="Main" className={styles.nav}>
          {/* on a phone the bar keeps one row: the brand is the way to the lessons, and Purchases
              is in the account menu (signed out, there are none to show) */}
          <Link href="/lessons" className={styles.wideOnly}>
            Lessons
          </Link>
          <Link href="/profile" className={styles.wideOnly}>
            Purchases
          </Link>
          {user ? (
            <AccountMenu email={user.email} onSignOut={() => void leave()} leaving={leaving} />
          ) : (
            // kept from sight (not from layout) until the browser knows nobody is signed in: a
            // prerendered page learns it from the session cookie after hydration
            <>
              {router.pathname === "/login" ? null : (
                <Link href={signInPath(safeNext(back))} className={checked ? undefined : styles.unknown}>
                  Sign in
                </Link>
              )}
              {router.pathname === "/signup" ? null : (
                <Link href={signUpPath(safeNext(back))} className={checked ? undefined : styles.unknown}>
                  Sign up
                </Link>
              )}
            </>
          )}
        </nav>
      </div>
      <div role="status" className={styles.notice}>
        {router.query.account === "deleted" && !user ? (
          <p className={notice.status}>
            Your account is deleted and you&apos;re signed out. Records of your payments stay in our books, no longer
            linked to you.
          </p>
        ) : signedOut && !user ? (
          <p className={notice.status}>You&apos;re signed out.</p>
        ) : null}
      </div>
      {problem ? (
        <div role="alert" className={notice.alert}>
          <p>{problem}</p>
        </div>
      ) : null}
    </header>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  return (
    <>
      <RouteProgress />
      <a className={styles.skip} href="#main">
        Skip to content
      </a>
      <ErrorBoundary label="the header">
        <Header />
      </ErrorBoundary>
      <main id="main" className={styles.main}>
        <ErrorBoundary label="this page">{children}</ErrorBoundary>
      </main>
      <Footer />
    </>
  );
}
