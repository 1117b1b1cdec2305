import Head from "next/head";
import { useRouter } from "next/router";
import { useEffect, useState, type FormEvent } from "react";
import type { GetServerSideProps } from "next";

import { FormError } from "@/components/AccountFields";
import notice from "@/components/Notice.module.css";
import { useAuth } from "@/context/AuthContext";
import { useAccountForm } from "@/hooks/useAccountForm";
import { DELETION_POLICY, deletionConfirmed } from "@/lib/accountPolicy";
import { signInPath } from "@/lib/navigation";
import { createServerSupabase, currentUser } from "@/lib/supabase";
import styles from "@/styles/Page.module.css";
import type { ShopUser } from "@/types/shop";

type Props = { user: ShopUser };

export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res, resolvedUrl }) => {
  const user = await currentUser(createServerSupabase(req, res));
  if (!user) return { redirect: { destination: signInPath(resolvedUrl), permanent: false } };
  return { props: { user } };
};

// what a mailed email-change link did (/api/auth/confirm sends the learner back here)
const EMAIL_CHANGE: Record<string, { good: boolean; words: string }> = {
  done: { good: true, words: "Your email is changed. Sign in with it from now on." },
  confirmed_one: {
    good: true,
    words: "That address is confirmed. Now open the link we sent to your other address to finish the change.",
  },
  otp_expired: { good: false, words: "That link has expired or was already used. Ask for the change again below." },
  user_banned: { good: false, words: "This account is suspended, so its email can't be changed. Please contact us." },
  unavailable: { good: false, words: "We couldn't reach the sign-in service. Please open the link again in a moment." },
  invalid_link: { good: false, words: "That link isn't valid. Ask for the change again below." },
};

function EmailSection({ email }: { email: string | null }) {
  const { changeEmail, prepare } = useAuth();
  const [next, setNext] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const { working, error, submit } = useAccountForm(
    // Auth answers a change to the same address with nothing to confirm: say so here
    () =>
      next.trim().toLowerCase() === (email ?? "").toLowerCase()
        ? Promise.resolve({ ok: false as const, message: "That is already your email." })
        : changeEmail(next.trim()),
    () => setSentTo(next.trim()),
  );
  useEffect(() => prepare(), [prepare]);
  return (
    <section aria-labelledby="email-heading" className={styles.panel}>
      <h2 id="email-heading">Email</h2>
      <p>
        You sign in as <strong>{email}</strong>.
      </p>
      <FormError message={error} />
      <div role="status">
        {sentTo ? (
          <div className={notice.status}>
            <p>
              We&apos;ve sent a link to {sentTo} and one to {email}. Open both within an hour to finish the change;
              until then you sign in as {email}.
            </p>
          </div>
        ) : null}
      </div>
      <form className={styles.form} onSubmit={submit}>
        <div className={styles.field}>
          <label htmlFor="new-email">New email</label>
          <input
            id="new-email"
            name="new-email"
            type="email"
            autoComplete="email"
            required
            value={next}
            onChange={(event) => setNext(event.target.value)}
          />
        </div>
        <button type="submit" className={styles.primary} disabled={working}>
          Change email
        </button>
      </form>
    </section>
  );
}

function PasswordSection() {
  const { updatePassword } = useAuth();
  const [password, setPassword] = useState("");
  const [changed, setChanged] = useState(false);
  const { working, error, submit } = useAccountForm(
    () => {
      setChanged(false);
      return updatePassword(password);
    },
    () => {
      setChanged(true);
      setPassword("");
    },
  );
  return (
    <section aria-labelledby="password-heading" className={styles.panel}>
      <h2 id="password-heading">Password</h2>
      <FormError message={error} />
      <div role="status">
        {changed ? (
          <div className={notice.status}>
            <p>Your password is changed. Use it the next time you sign in; you stay signed in here.</p>
          </div>
        ) : null}
      </div>
      <form className={styles.form} onSubmit={submit}>
        <div className={styles.field}>
          <label htmlFor="new-password">New password</label>
          <input
            id="new-password"
            name="new-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={6}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </div>
        <button type="submit" className={styles.primary} disabled={working}>
          Change password
        </button>
      </form>
    </section>
  );
}

function DeleteSection({ email }: { email: string | null }) {
  const { signOut } = useAuth();
  const router = useRouter();
  const [typed, setTyped] = useState("");
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirmed = deletionConfirmed(typed, email);

  const remove = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!confirmed) return;
    setWorking(true);
    setError(null);
    let answer: Response | null = null;
    try {
      answer = await fetch("/api/account", {
        method: "DELETE",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ confirm: typed }),
      });
    } catch {
      answer = null;
    }
    if (answer?.status !== 204) {
      const body = (await answer?.json().catch(() => null)) as { error?: { message?: string } } | null;
      setError(
        body?.error?.message ?? "We couldn't delete your account just now. Nothing was deleted; please try again.",
      );
      setWorking(false);
      return;
    }
    // the server cleared the session cookies; this forgets the session in this tab too
    await signOut().catch(() => undefined);
    await router.replace("/lessons?account=deleted");
  };

  return (
    <section aria-labelledby="delete-heading" className={styles.panel}>
      <h2 id="delete-heading">Delete your account</h2>
      <p>{DELETION_POLICY}</p>
      <FormError message={error} />
      <form className={styles.form} onSubmit={remove}>
        <div className={styles.field}>
          <label htmlFor="confirm-deletion">Type your email or the word &quot;delete&quot; to confirm</label>
          <input
            id="confirm-deletion"
            name="confirm-deletion"
            type="text"
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
          />
        </div>
        <button type="submit" className={styles.danger} disabled={!confirmed || working}>
          Delete my account
        </button>
      </form>
    </section>
  );
}

export default function AccountPage({ user }: Props) {
  const router = useRouter();
  const change = typeof router.query.email_change === "string" ? router.query.email_change : null;
  const outcome = change ? (EMAIL_CHANGE[change] ?? EMAIL_CHANGE.invalid_link) : null;
  return (
    <>
      <Head>
        <title>Your account · Lesson shop</title>
      </Head>
      <h1>Your account</h1>
      {outcome && !outcome.good ? (
        <div role="alert" className={notice.alert}>
          <p>{outcome.words}</p>
        </div>
      ) : null}
      <div role="status">
        {outcome?.good ? (
          <div className={notice.status}>
            <p>{outcome.words}</p>
          </div>
        ) : null}
      </div>
      <div className={styles.stack}>
        <EmailSection email={user.email} />
        <PasswordSection />
        <DeleteSection email={user.email} />
      </div>
    </>
  );
}
