import Head from "next/head";
import Link from "next/link";
import { useRouter } from "next/router";
import { useState } from "react";

import { EmailField, FormError } from "@/components/AccountFields";
import { useAuth } from "@/context/AuthContext";
import { useAccountForm } from "@/hooks/useAccountForm";
import { useSendSignedInOn } from "@/hooks/useSendSignedInOn";
import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";

// why the reset link did not sign the learner in (/api/auth/confirm sends them here)
const LINK_PROBLEMS: Record<string, string> = {
  otp_expired: "That reset link has expired or was already used. Enter your email to get a new one.",
  user_banned: "This account is suspended, so its password can't be reset. Please contact us.",
  unavailable: "We couldn't reach the sign-in service. Please open the link again in a moment.",
  invalid_link: "That reset link isn't valid. Enter your email to get a new one.",
};

export default function ForgotPasswordPage() {
  const { requestPasswordReset } = useAuth();
  const router = useRouter();
  const linkProblem =
    typeof router.query.error === "string" ? (LINK_PROBLEMS[router.query.error] ?? LINK_PROBLEMS.invalid_link) : null;
  const [email, setEmail] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  useSendSignedInOn();
  const { working, error, submit } = useAccountForm(
    () => requestPasswordReset(email),
    () => setSentTo(email),
  );

  return (
    <>
      <Head>
        <title>Reset your password · Lesson shop</title>
      </Head>
      <h1>Reset your password</h1>
      {linkProblem && !sentTo ? (
        <div role="alert" className={notice.alert}>
          <p>{linkProblem}</p>
        </div>
      ) : null}
      <FormError message={error} />
      <div role="status">
        {sentTo ? (
          <div className={notice.status}>
            <p>
              If an account exists for {sentTo}, we&apos;ve sent it a link to choose a new password. The link works
              once, for an hour.
            </p>
          </div>
        ) : null}
      </div>
      <form className={styles.form} onSubmit={submit}>
        <EmailField value={email} onChange={setEmail} />
        <button type="submit" className={styles.primary} disabled={working}>
          Send reset link
        </button>
      </form>
      <p className={styles.muted}>
        Remembered it? <Link href="/login">Sign in</Link>
      </p>
    </>
  );
}
