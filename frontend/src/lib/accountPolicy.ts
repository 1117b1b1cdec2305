// What deleting an account keeps and removes, in the words the account page shows before the
// learner confirms (and README/ARCHITECTURE give in full), and the confirmation it asks for.

export const DELETION_POLICY =
  "Deleting your account removes your sign-in, your access to the lessons you bought and where you stopped reading. " +
  "Records of your payments (amount, date, Stripe reference and any refund) stay in our books for accounting, no longer linked to you. " +
  "This cannot be undone.";

/** The learner typed their own email (any case, spaces around ignored) or the word "delete". */
export function deletionConfirmed(typed: string, email: string | null): boolean {
  const value = typed.trim().toLowerCase();
  if (value === "") return false;
  if (value === "delete") return true;
  return email !== null && value === email.trim().toLowerCase();
}
