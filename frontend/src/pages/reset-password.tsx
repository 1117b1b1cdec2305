import Head from "next/head";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import type { GetServerSideProps } from "next";

import { useAuth } from "@/context/AuthContext";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";
import type { ShopUser } from "@/types/shop";

type Props = { user: ShopUser | null };

// The reset link (through /api/auth/confirm) signs the learner in; here they choose the new
// password. Without that session there is nothing to change: the page says how to get a link.
export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res }) => ({
  props: { user: await currentUser(createServerSupabase(req, res)) },
});

export default function ResetPasswordPage({ user }: Props) {
  const { updatePassword } = useAuth();
  const [password, setPassword] = useState("");
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    const result = await updatePassword(password);
    setWorking(false);
    if (!result.ok) {
      setError(result.message);
      return;
    }
    setDone(true);
  };

  return (
    <>
      <Head>
        <title>Choose a new password · Lesson shop</title>
      </Head>
      <h1>Choose a new password</h1>
      {!user ? (
        <div role="alert" className={notice.alert}>
          <p>
            Open this page from the link in your reset email. <Link href="/forgot-password">Get a new link</Link>
          </p>
        </div>
      ) : (
        <>
          {error ? (
            <div role="alert" className={notice.alert}>
              <p>{error}</p>
            </div>
          ) : null}
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
              <div className={styles.field}>
                <label htmlFor="password">New password</label>
                <input
                  id="password"
                  name="password"
                  type="password"
                  autoComplete="new-password"
                  required
                  minLength={6}
                  value={password}
                  onChange={(event) => setPassword(event.target.value)}
                />
              </div>
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
