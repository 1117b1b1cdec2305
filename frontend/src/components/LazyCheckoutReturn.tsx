import dynamic from "next/dynamic";

// The return from Checkout matters only on a return (`?checkout=…`): its code, and the words for
// what can go wrong, load then, and are no part of an ordinary visit's JavaScript. Rendered on the
// server like the rest of the page, so the notice is there before hydration.
export const LazyCheckoutReturn = dynamic(() =>
  import("@/components/CheckoutReturn").then((module) => module.CheckoutReturn),
);
