// The Purchases page's record of payments: a table on a wide screen, a list of cards on a phone
// (each drawn from the same words, lib/purchases.ts). CSS shows one and hides the other, so only
// the one on screen is in the accessibility tree.
import Link from "next/link";

import { CopyReference } from "@/components/CopyReference";
import { LocalTime } from "@/components/LocalTime";
import type { PaymentMethodWords, PurchaseView, Tone } from "@/lib/purchases";

import styles from "./PurchaseList.module.css";

const TONE: Record<Tone, string | undefined> = {
  good: styles.good,
  waiting: styles.waiting,
  bad: styles.bad,
  neutral: styles.neutral,
};

function State({ view }: { view: PurchaseView }) {
  return (
    <>
      <span className={`${styles.badge} ${TONE[view.state.tone] ?? ""}`}>{view.state.word}</span>
      {view.state.detail ? <span className={styles.detail}>{view.state.detail}</span> : null}
    </>
  );
}

function Refund({ refund, said = false }: { refund: NonNullable<PurchaseView["refund"]>; said?: boolean }) {
  return (
    <>
      {refund.amount}
      {said ? null : " refunded"}
      {refund.at ? (
        <>
          {" "}
          on <LocalTime iso={refund.at} dateOnly />
        </>
      ) : null}
    </>
  );
}

function Method({ method }: { method: PaymentMethodWords }) {
  return (
    <>
      <span aria-hidden="true" className={styles.method}>
        {method.text}
      </span>
      <span className="visually-hidden">{method.spoken}</span>
    </>
  );
}

function Documents({ view }: { view: PurchaseView }) {
  if (!view.receiptUrl && !view.invoiceUrl) return null;
  return (
    <span className={styles.documents}>
      {view.receiptUrl ? (
        <a href={view.receiptUrl} target="_blank" rel="noopener">
          Receipt <span className="visually-hidden">for {view.title} (opens in a new tab)</span>
          <span aria-hidden="true"> ↗</span>
        </a>
      ) : null}
      {view.invoiceUrl ? (
        <a href={view.invoiceUrl} target="_blank" rel="noopener">
          Invoice <span className="visually-hidden">for {view.title} (opens in a new tab)</span>
          <span aria-hidden="true"> ↗</span>
        </a>
      ) : null}
    </span>
  );
}

function None({ what }: { what: string }) {
  return (
    <>
      <span aria-hidden="true">—</span>
      <span className="visually-hidden">{what}</span>
    </>
  );
}

function PurchaseTable({ views }: { views: PurchaseView[] }) {
  return (
    <table className={styles.table}>
      <caption className="visually-hidden">Your payments, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Lesson</th>
          <th scope="col">Date</th>
          <th scope="col">Amount</th>
          <th scope="col">Status</th>
          <th scope="col">Payment</th>
          <th scope="col">Receipt</th>
        </tr>
      </thead>
      <tbody>
        {views.map((view) => (
          <tr key={view.id}>
            <th scope="row" className={styles.lesson}>
              <Link href={view.href}>{view.title}</Link>
            </th>
            <td>
              <LocalTime iso={view.occurredAt} twoLines />
            </td>
            <td className={styles.amount}>
              {view.amount}
              {view.discount ? <span className={styles.detail}>{view.discount}</span> : null}
              {view.refund ? (
                <span className={styles.detail}>
                  <Refund refund={view.refund} />
                </span>
              ) : null}
            </td>
            <td>
              <State view={view} />
            </td>
            <td>
              {view.method ? <Method method={view.method} /> : <None what="Not reported yet" />}
              {view.reference ? (
                <span className={styles.detail}>
                  <CopyReference reference={view.reference} />
                </span>
              ) : null}
            </td>
            <td>{view.receiptUrl || view.invoiceUrl ? <Documents view={view} /> : <None what="None yet" />}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function PurchaseCards({ views }: { views: PurchaseView[] }) {
  return (
    <ul className={styles.cards} aria-label="Your payments, newest first">
      {views.map((view) => {
        const headingId = `payment-${view.id}`;
        return (
          <li key={view.id}>
            <article className={styles.card} aria-labelledby={headingId}>
              <h2 id={headingId} className={styles.cardTitle}>
                <Link href={view.href}>{view.title}</Link>
              </h2>
              <p className={styles.state}>
                <State view={view} />
              </p>
              <dl className={styles.facts}>
                <div>
                  <dt>Date</dt>
                  <dd>
                    <LocalTime iso={view.occurredAt} />
                  </dd>
                </div>
                <div>
                  <dt>Amount</dt>
                  <dd>
                    {view.amount}
                    {view.discount ? <span className={styles.detail}>{view.discount}</span> : null}
                  </dd>
                </div>
                {view.refund ? (
                  <div>
                    <dt>Refunded</dt>
                    <dd>
                      <Refund refund={view.refund} said />
                    </dd>
                  </div>
                ) : null}
                {view.method ? (
                  <div>
                    <dt>Paid with</dt>
                    <dd>
                      <Method method={view.method} />
                    </dd>
                  </div>
                ) : null}
                {view.reference ? (
                  <div className={styles.stacked}>
                    <dt>Reference</dt>
                    <dd>
                      <CopyReference reference={view.reference} />
                    </dd>
                  </div>
                ) : null}
              </dl>
              <Documents view={view} />
            </article>
          </li>
        );
      })}
    </ul>
  );
}

export function PurchaseList({ views }: { views: PurchaseView[] }) {
  return (
    <>
      <PurchaseTable views={views} />
      <PurchaseCards views={views} />
    </>
  );
}
