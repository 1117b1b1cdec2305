// A payment's reference (its PaymentIntent id), for the learner to quote to support: shown in
// full, selectable at a tap, and copied with one button. Without the clipboard API (an old
// browser, a page not served securely) the button selects the reference for the learner to copy.
import { useRef, useState } from "react";

import styles from "./PurchaseList.module.css";

export function CopyReference({ reference }: { reference: string }) {
  const code = useRef<HTMLElement>(null);
  const [said, setSaid] = useState("");

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(reference);
      setSaid("Reference copied");
    } catch {
      const selection = window.getSelection();
      if (code.current && selection) {
        const range = document.createRange();
        range.selectNodeContents(code.current);
        selection.removeAllRanges();
        selection.addRange(range);
      }
      setSaid("Reference selected: copy it with your keyboard or menu");
    }
  };

  return (
    <span className={styles.reference}>
      <code ref={code} className={styles.code}>
        {reference}
      </code>{" "}
      <button type="button" className={styles.copy} onClick={() => void copy()}>
        {said === "Reference copied" ? "Copied" : "Copy"} <span className="visually-hidden">reference {reference}</span>
      </button>
      <span role="status" className="visually-hidden">
        {said}
      </span>
    </span>
  );
}
