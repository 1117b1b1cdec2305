import notice from "@/components/Notice.module.css";
import styles from "@/styles/Page.module.css";

type FieldProps = {
  value: string;
  onChange(value: string): void;
};

/** The email field of the account forms. */
export function EmailField({ value, onChange }: FieldProps) {
  return (
    <div className={styles.field}>
      <label htmlFor="email">Email</label>
      <input
        id="email"
        name="email"
        type="email"
        autoComplete="email"
        required
        value={value}
        onChange={(event) => onChange(event.target.value)}
      />
    </div>
  );
}

/** A password field: the current one (sign in) or a new one (at least 6 characters, Auth's minimum). */
export function PasswordField({ value, onChange, label, fresh }: FieldProps & { label: string; fresh: boolean }) {
  return (
    <div className={styles.field}>
      <label htmlFor="password">{label}</label>
      <input
        id="password"
        name="password"
        type="password"
        autoComplete={fresh ? "new-password" : "current-password"}
        required
        minLength={fresh ? 6 : undefined}
        value={value}
        onChange={(event) => onChange(event.target.value)}
      />
    </div>
  );
}

/** What went wrong, announced. */
export function FormError({ message }: { message: string | null }) {
  return message ? (
    <div role="alert" className={notice.alert}>
      <p>{message}</p>
    </div>
  ) : null;
}
