// stripe-sync-engine behind a webhook endpoint, for `make bench-peers` (bench/peers).
//
//   node server.mjs migrate   creates schema `stripe` with the package's own migrations
//   node server.mjs           serves POST /webhooks (and GET /health) on 127.0.0.1:$PORT
//
// The endpoint is what the project's own Fastify app does (read the raw body, then
// `processWebhook(body, signature)`, answer {"received": true}), on node:http with no logger.
// Env: DATABASE_URL, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, PORT, POOL_MAX.
import http from 'node:http'
import { createRequire } from 'node:module'
import Stripe from 'stripe'

// the package's CommonJS build: its ES module build's runMigrations reads `__dirname`, which an
// ES module does not have (ReferenceError: __dirname is not defined)
const { StripeSync, runMigrations } = createRequire(import.meta.url)('@supabase/stripe-sync-engine')

const env = process.env
const schema = 'stripe'

if (process.argv[2] === 'migrate') {
  // runMigrations logs and swallows its errors; the caller checks the tables exist
  await runMigrations({
    databaseUrl: env.DATABASE_URL,
    schema,
    logger: { info() {}, warn: console.error, error: (e, m) => console.error(m, e) },
  })
  process.exit(0)
}

const sync = new StripeSync({
  poolConfig: { connectionString: env.DATABASE_URL, max: Number(env.POOL_MAX || 10) },
  schema,
  stripeSecretKey: env.STRIPE_SECRET_KEY,
  stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
})
// Its config has no API host: the same client (its appInfo, the library's API version) is
// swapped for one pointed at STRIPE_API_BASE (the offline stand-in), before any call.
const api = new URL(env.STRIPE_API_BASE)
sync.stripe = new Stripe(env.STRIPE_SECRET_KEY, {
  host: api.hostname,
  port: Number(api.port),
  protocol: api.protocol.replace(':', ''),
  appInfo: { name: 'Stripe Postgres Sync' },
})

function answer(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const server = http.createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/health') return answer(res, 200, { ok: true })
  if (req.method !== 'POST' || req.url !== '/webhooks') return answer(res, 404, { error: 'not found' })
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  try {
    await sync.processWebhook(Buffer.concat(chunks), req.headers['stripe-signature'])
    answer(res, 200, { received: true })
  } catch (err) {
    const status = err?.type === 'StripeSignatureVerificationError' ? 400 : 500
    answer(res, status, { error: String(err?.message ?? err) })
  }
})
server.keepAliveTimeout = 60_000
server.listen(Number(env.PORT), '127.0.0.1')
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => sync.close().then(() => process.exit(0))))
}
