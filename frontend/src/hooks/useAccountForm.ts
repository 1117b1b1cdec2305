import { useState, type FormEvent } from "react";

import type { AuthResult } from "@/context/AuthContext";

/**
 * An account form's submit (sign in, sign up, reset link, new password): one request at a time
 * (the button is disabled while it runs), its refusal in words, then `done` with the answer.
 */
export function useAccountForm(act: () => Promise<AuthResult>, done: (result: AuthResult & { ok: true }) => unknown) {
  const [working, setWorking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    const result = await act();
    if (!result.ok) {
      setError(result.message);
      setWorking(false);
      return;
    }
    await done(result);
    setWorking(false);
  };
  return { working, error, submit };
}
