import { Head, Html, Main, NextScript } from "next/document";

// /api/runtime-config sets window.__SHOP_CONFIG__ (lib/config.ts) from the server's environment
// on each request. Deferred scripts run in document order, so it runs before Next's own
// (deferred too), and no page needs it inlined: pages stay static and the CSP allows 'self' alone.
export default function ShopDocument() {
  return (
    <Html lang="en">
      <Head>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <script src="/api/runtime-config" defer />
      </Head>
      <body>
        <Main />
        <NextScript />
      </body>
    </Html>
  );
}
