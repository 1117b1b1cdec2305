import Head from "next/head";
import Link from "next/link";
import { useEffect, useState } from "react";

import { FormError, PasswordField } from "@/components/AccountFields";
import { useAuth } from "@/context/AuthContext";
import { useAccountForm } from "@/hooks/useAccountForm";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";

// The reset link (through /api/auth/confirm) signs the learner in; here they choose the new
// password. Without that session there is nothing to change: the page says how to get a link.
// Prerendered: the browser's Supabase client reads the session the link left in the cookie
// (Auth itself checks it again when the password is saved).
export default function ResetPasswordPage() {
  const { user, checked, prepare, updatePassword } = useAuth();
  useEffect(() => prepare(), [prepare]);
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const { working, error, submit } = useAccountForm(
    () => updatePassword(password),
    () => setDone(true),
  );

  return (
    <>
      <Head>
        <title>Choose a new password · Lesson shop</title>
      </Head>
      <h1>Choose a new password</h1>
      {!checked ? (
        <p role="status">Checking your reset link…</p>
      ) : !user ? (
        <div role="alert" className={notice.alert}>
          <p>
            Open this page from the link in your reset email. <Link href="/forgot-password">Get a new link</Link>
          </p>
        </div>
      ) : (
        <>
          <FormError message={error} />
          <div role="status">
            {done ? (
              <div className={notice.status}>
                <p>
                  Your password is changed and you&apos;re signed in as {user.email}.{" "}
                  <Link href="/lessons">Browse lessons</Link>
                </p>
              </div>
            ) : null}
          </div>
          {done ? null : (
            <form className={styles.form} onSubmit={submit}>
              <p>Signed in as {user.email} from your reset link.</p>
              <PasswordField value={password} onChange={setPassword} label="New password" fresh />
              <button type="submit" className={styles.primary} disabled={working}>
                Save new password
              </button>
            </form>
          )}
        </>
      )}
    </>
  );
}
