import Link from "next/link";
import { useRouter } from "next/router";
import { useEffect, useState, type ReactNode } from "react";

import { ErrorBoundary } from "@/components/ErrorBoundary";
import { useAuth } from "@/context/AuthContext";
import { safeNext, signInPath, signUpPath } from "@/lib/navigation";

import notice from "./Notice.module.css";
import styles from "./Layout.module.css";

function Header() {
  const { user, signOut } = useAuth();
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
        <span className={styles.brand}>Lesson shop</span>
        <nav aria-label="Main" className={styles.nav}>
          <Link href="/lessons">Lessons</Link>
          <Link href="/profile">Purchases</Link>
          {user ? (
            <span className={styles.account}>
              <span className={styles.email}>{user.email}</span>
              <button type="button" className={styles.signOut} onClick={leave} disabled={leaving}>
                Sign out
              </button>
            </span>
          ) : (
            <>
              {router.pathname === "/login" ? null : <Link href={signInPath(safeNext(back))}>Sign in</Link>}
              {router.pathname === "/signup" ? null : <Link href={signUpPath(safeNext(back))}>Sign up</Link>}
            </>
          )}
        </nav>
      </div>
      <div role="status" className={styles.notice}>
        {signedOut && !user ? <p className={notice.status}>You&apos;re signed out.</p> : null}
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
      <a className={styles.skip} href="#main">
        Skip to content
      </a>
      <ErrorBoundary label="the header">
        <Header />
      </ErrorBoundary>
      <main id="main" className={styles.main}>
        <ErrorBoundary label="this page">{children}</ErrorBoundary>
      </main>
    </>
  );
}
