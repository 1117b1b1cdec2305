import Link from "next/link";
import { useRouter } from "next/router";
import { useState, type ReactNode } from "react";

import { ErrorBoundary } from "@/components/ErrorBoundary";
import { useAuth } from "@/context/AuthContext";
import { safeNext, signInPath } from "@/lib/navigation";

import notice from "./Notice.module.css";
import styles from "./Layout.module.css";

function Header() {
  const { user, signOut } = useAuth();
  const router = useRouter();
  const [problem, setProblem] = useState<string | null>(null);
  const onLoginPage = router.pathname === "/login";
  const back = router.pathname === "/signup" ? safeNext(router.query.next) : router.asPath;

  const leave = async () => {
    setProblem(null);
    const result = await signOut();
    if (!result.ok) {
      setProblem(result.message);
      return;
    }
    await router.replace(router.asPath, undefined, { scroll: false });
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
              <button type="button" className={styles.signOut} onClick={leave}>
                Sign out
              </button>
            </span>
          ) : onLoginPage ? null : (
            <Link href={signInPath(safeNext(back))}>Sign in</Link>
          )}
        </nav>
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
