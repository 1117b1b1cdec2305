import Link from "next/link";
import { useRouter } from "next/router";
import { useEffect, useState, type FormEvent } from "react";

import { useAuth } from "@/context/AuthContext";
import { safeNext, signInPath, signUpPath } from "@/lib/navigation";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";

/** The sign-in and sign-up form: both return to `?next=` (a path on this site) when done. */
export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const { signIn, signUp, prepare } = useAuth();
  const router = useRouter();
  const next = safeNext(router.query.next);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const signingIn = mode === "sign-in";
  useEffect(() => prepare(), [prepare]);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    const result = signingIn ? await signIn(email, password) : await signUp(email, password);
    if (!result.ok) {
      setError(result.message);
      setWorking(false);
      return;
    }
    if (result.needsConfirmation) {
      setConfirm(true);
      setWorking(false);
      return;
    }
    await router.push(next);
  };

  const other = signingIn ? "/signup" : "/login";
  const otherPage = next === "/lessons" ? other : signingIn ? signUpPath(next) : signInPath(next);
  return (
    <>
      <h1>{signingIn ? "Sign in" : "Create an account"}</h1>
      {error ? (
        <div role="alert" className={notice.alert}>
          <p>{error}</p>
        </div>
      ) : null}
      {confirm ? (
        <div role="status" className={notice.status}>
          <p>Check your email to confirm your account, then sign in.</p>
        </div>
      ) : null}
      <form className={styles.form} onSubmit={submit} noValidate={false}>
        <div className={styles.field}>
          <label htmlFor="email">Email</label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </div>
        <div className={styles.field}>
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={signingIn ? "current-password" : "new-password"}
            required
            minLength={signingIn ? undefined : 6}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </div>
        <button type="submit" className={styles.primary} disabled={working}>
          {signingIn ? "Sign in" : "Create account"}
        </button>
      </form>
      {signingIn ? (
        <p>
          <Link href="/forgot-password">Forgot password?</Link>
        </p>
      ) : null}
      <p className={styles.muted}>
        {signingIn ? (
          <>
            New here? <Link href={otherPage}>Create an account</Link>
          </>
        ) : (
          <>
            Already have an account? <Link href={otherPage}>Sign in</Link>
          </>
        )}
      </p>
    </>
  );
}
