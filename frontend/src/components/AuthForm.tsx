import Link from "next/link";
import { useRouter } from "next/router";
import { useState } from "react";

import { EmailField, FormError, PasswordField } from "@/components/AccountFields";
import { useAuth } from "@/context/AuthContext";
import { useAccountForm } from "@/hooks/useAccountForm";
import { useSendSignedInOn } from "@/hooks/useSendSignedInOn";
import { safeNext, signInPath, signUpPath } from "@/lib/navigation";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";

/** The sign-in and sign-up form: both return to `?next=` (a path on this site) when done. */
export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const { signIn, signUp } = useAuth();
  const router = useRouter();
  const next = safeNext(router.query.next);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState(false);
  const signingIn = mode === "sign-in";
  // signed in (now, or before the page opened): on to `next`
  useSendSignedInOn();

  const { working, error, submit } = useAccountForm(
    () => (signingIn ? signIn(email, password) : signUp(email, password)),
    (result) => {
      if (result.needsConfirmation) setConfirm(true);
    },
  );

  const other = signingIn ? "/signup" : "/login";
  const otherPage = next === "/lessons" ? other : signingIn ? signUpPath(next) : signInPath(next);
  return (
    <>
      <h1>{signingIn ? "Sign in" : "Create an account"}</h1>
      <FormError message={error} />
      {confirm ? (
        <div role="status" className={notice.status}>
          <p>Check your email to confirm your account, then sign in.</p>
        </div>
      ) : null}
      <form className={styles.form} onSubmit={submit} noValidate={false}>
        <EmailField value={email} onChange={setEmail} />
        <PasswordField value={password} onChange={setPassword} label="Password" fresh={!signingIn} />
        <button type="submit" className={styles.primary} disabled={working}>
          {signingIn ? "Sign in" : "Create account"}
        </button>
      </form>
      {signingIn ? (
        <p>
          <Link href="/forgot-password" className={styles.back}>
            Forgot password?
          </Link>
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
