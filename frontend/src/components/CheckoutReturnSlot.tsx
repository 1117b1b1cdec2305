// Where the notice about a return from Checkout goes. Its code (polling the session, the words
// for each outcome) loads only when the address says the learner is back from Checkout, which
// keeps it out of the JavaScript every visit to the page loads first; meanwhile the slot shows
// the notice's own first words, which the server rendered too.
import { useEffect, useState, type ComponentProps } from "react";

import type { CheckoutReturn } from "@/components/CheckoutReturn";
import { RETURN_FIRST_WORDS } from "@/lib/checkoutSession";

import styles from "./Notice.module.css";

type Props = ComponentProps<typeof CheckoutReturn>;

export function CheckoutReturnSlot(props: Props) {
  const [Loaded, setLoaded] = useState<typeof CheckoutReturn | null>(null);
  const [failed, setFailed] = useState(false);
  const back = props.query !== null;
  useEffect(() => {
    if (!back) return;
    let live = true;
    import("@/components/CheckoutReturn").then(
      (module) => live && setLoaded(() => module.CheckoutReturn),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [back]);

  if (!props.query) return null;
  if (Loaded) return <Loaded {...props} />;
  if (failed) {
    return (
      <div role="alert" className={styles.alert}>
        <p>We couldn&apos;t check your payment from this page. Reload it to try again.</p>
      </div>
    );
  }
  return (
    <div role="status" className={props.query.kind === "cancelled" ? styles.neutral : styles.status}>
      <p>{RETURN_FIRST_WORDS[props.query.kind]}</p>
    </div>
  );
}
