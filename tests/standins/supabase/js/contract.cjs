// supabase-js (the frontend's own copy, from frontend/node_modules) against the Supabase
// stand-in: `node contract.cjs <scenario>` prints one JSON document of what the client saw;
// tests/standins/supabase/test_supabase_js.py asserts on it.
//
// Environment: SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY, SUPABASE_SECRET_KEY,
// FRONTEND_NODE_MODULES, and for the learner scenarios LEARNER_EMAIL / LEARNER_PASSWORD.
'use strict'

const path = require('node:path')
const { createClient } = require(
  path.join(process.env.FRONTEND_NODE_MODULES, '@supabase', 'supabase-js'),
)

const url = process.env.SUPABASE_URL
const options = { auth: { persistSession: false, autoRefreshToken: false } }
const anon = () => createClient(url, process.env.SUPABASE_PUBLISHABLE_KEY, options)
const service = () => createClient(url, process.env.SUPABASE_SECRET_KEY, options)

// What a call answered, without the parts that differ per run.
const seen = ({ data, error, count, status }) => ({ data, error, count, status })

async function learner() {
  const client = anon()
  const { error } = await client.auth.signInWithPassword({
    email: process.env.LEARNER_EMAIL,
    password: process.env.LEARNER_PASSWORD,
  })
  if (error) throw new Error(`sign-in failed: ${error.message}`)
  return client
}

const scenarios = {
  async single() {
    const lessons = () => anon().from('lessons').select('slug,title')
    return {
      one: seen(await lessons().eq('slug', 'welcome-to-sql').single()),
      none: seen(await lessons().eq('slug', 'no-such-lesson').single()),
      many: seen(await lessons().single()),
      maybeNone: seen(await lessons().eq('slug', 'no-such-lesson').maybeSingle()),
      maybeOne: seen(await lessons().eq('slug', 'welcome-to-sql').maybeSingle()),
    }
  },

  async count() {
    const client = anon()
    return {
      head: seen(await client.from('lessons').select('*', { count: 'exact', head: true })),
      page: seen(
        await client.from('lessons').select('slug', { count: 'exact' }).order('slug').limit(2),
      ),
      range: seen(
        await client.from('lessons').select('slug', { count: 'exact' }).order('slug').range(2, 3),
      ),
      empty: seen(
        await client.from('lessons').select('slug', { count: 'exact' }).eq('slug', 'nothing'),
      ),
    }
  },

  async filters() {
    const slugs = (query) => query.order('slug').then((r) => ({ ...seen(r), data: r.data && r.data.map((x) => x.slug) }))
    const lessons = () => anon().from('lessons').select('slug')
    return {
      in: await slugs(lessons().in('slug', ['welcome-to-sql', 'indexes-explained', 'a,"b"(c)'])),
      ilike: await slugs(lessons().ilike('title', '%JOIN%')),
      like: await slugs(lessons().like('slug', '%-in-%')),
      or: await slugs(lessons().or('price_cents.eq.0,slug.eq.stripe-webhooks')),
      orNested: await slugs(
        lessons().or('and(currency.eq.eur,price_cents.gt.1000),slug.in.(indexes-explained,"x,y")'),
      ),
      notIn: await slugs(lessons().not('currency', 'in', '(usd,eur)')),
      notEq: await slugs(lessons().not('price_cents', 'gt', 0)),
      isNull: await slugs(lessons().is('stripe_price_id', null).eq('currency', 'jpy')),
      bad: seen(await anon().from('lessons').select('slug').filter('slug', 'eqq', 'x')),
    }
  },

  async embedding() {
    const client = await learner()
    return {
      content: seen(
        await client
          .from('lessons')
          .select('slug, name:title, lesson_content(body)')
          .in('slug', ['welcome-to-sql', 'joins-without-fear', 'row-level-security'])
          .order('slug'),
      ),
      purchases: seen(
        await client.from('purchased_lessons').select('status, lessons(slug, title)'),
      ),
      oneToMany: seen(
        await client
          .from('lessons')
          .select('slug, purchased_lessons(status)')
          .eq('slug', 'joins-without-fear')
          .single(),
      ),
      inner: seen(
        await client
          .from('lessons')
          .select('slug, purchased_lessons!inner(status)')
          .order('slug'),
      ),
      spread: seen(await client.from('purchased_lessons').select('status, ...lessons(slug)')),
      unknown: seen(await client.from('lessons').select('slug, no_such_table(id)')),
    }
  },

  async rpc() {
    const client = anon()
    return {
      filtered: seen(
        await client
          .rpc('lesson_catalog')
          .select('slug, price_cents')
          .eq('currency', 'usd')
          .gt('price_cents', 0)
          .order('price_cents', { ascending: false })
          .limit(2),
      ),
      get: seen(
        await client.rpc('lesson_catalog', {}, { get: true }).select('slug').eq('slug', 'indexes-explained'),
      ),
      single: seen(await client.rpc('lesson_catalog').eq('slug', 'welcome-to-sql').single()),
      head: seen(await client.rpc('lesson_catalog', {}, { head: true, count: 'exact' })),
    }
  },

  async writes() {
    const row = { user_id: '00000000-0000-4000-8000-0000000000ff', lesson_id: '00000000-0000-4000-8000-000000000002', status: 'paid' }
    const signedIn = await learner()
    const admin = service()
    const lesson = {
      slug: 'written-by-supabase-js',
      title: 'Written by supabase-js',
      description: 'Inserted, updated and deleted through the stand-in.',
      price_cents: 700,
      currency: 'usd',
      published: false,
    }
    const inserted = seen(await admin.from('lessons').insert(lesson).select('slug, title').single())
    const updated = seen(
      await admin.from('lessons').update({ title: 'Renamed' }).eq('slug', lesson.slug).select('title'),
    )
    const upserted = seen(
      await admin
        .from('lessons')
        .upsert({ ...lesson, title: 'Upserted' }, { onConflict: 'slug' })
        .select('title'),
    )
    const deleted = seen(await admin.from('lessons').delete({ count: 'exact' }).eq('slug', lesson.slug))
    return {
      anonInsert: seen(await anon().from('purchased_lessons').insert(row)),
      learnerInsert: seen(await signedIn.from('purchased_lessons').insert(row)),
      learnerUpdate: seen(
        await signedIn.from('lessons').update({ price_cents: 0 }).eq('slug', 'row-level-security'),
      ),
      learnerDelete: seen(await signedIn.from('lesson_content').delete().eq('lesson_id', row.lesson_id)),
      inserted,
      updated,
      upserted,
      deleted,
      after: seen(await admin.from('lessons').select('slug').eq('slug', lesson.slug)),
    }
  },

  async cors() {
    const origin = 'http://localhost:3000'
    const headers = (response) => Object.fromEntries(response.headers.entries())
    const preflight = async (path, method) => {
      const response = await fetch(`${url}${path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': method,
          'Access-Control-Request-Headers':
            'apikey,authorization,x-client-info,content-type,accept-profile,content-profile,prefer,range,x-supabase-api-version',
        },
      })
      return { status: response.status, headers: headers(response) }
    }
    const read = await fetch(`${url}/rest/v1/lessons?select=slug&limit=1`, {
      headers: { Origin: origin, apikey: process.env.SUPABASE_PUBLISHABLE_KEY, Prefer: 'count=exact' },
    })
    const settings = await fetch(`${url}/auth/v1/settings`, {
      headers: { Origin: origin, apikey: process.env.SUPABASE_PUBLISHABLE_KEY },
    })
    const refused = await fetch(`${url}/rest/v1/lessons`, { headers: { Origin: origin } })
    return {
      rest: await preflight('/rest/v1/lessons?select=slug', 'GET'),
      rpc: await preflight('/rest/v1/rpc/lesson_catalog', 'POST'),
      auth: await preflight('/auth/v1/token?grant_type=password', 'POST'),
      read: { status: read.status, headers: headers(read) },
      settings: { status: settings.status, headers: headers(settings) },
      refused: { status: refused.status, headers: headers(refused) },
    }
  },

  // Storage: the service role uploads two files, the learner signs the one RLS lets it see
  // and fetches it whole and by Range, as a video element would; the other is refused.
  async storage() {
    const bucket = process.env.STORAGE_BUCKET
    const mine = `${process.env.LEARNER_ID}/clip.bin`
    const theirs = `someone-else/clip.bin`
    const bytes = new Uint8Array(4096).map((_, i) => i % 251)
    const files = service().storage.from(bucket)
    const uploaded = await files.upload(mine, bytes, { contentType: 'video/mp4' })
    await files.upload(theirs, bytes, { contentType: 'video/mp4' })
    const media = (await learner()).storage.from(bucket)
    const signed = await media.createSignedUrl(mine, 60)
    const whole = await fetch(signed.data.signedUrl)
    const part = await fetch(signed.data.signedUrl, { headers: { Range: 'bytes=100-199' } })
    const refused = await media.createSignedUrl(theirs, 60)
    const buckets = await service().storage.listBuckets()
    return {
      uploaded: { data: uploaded.data, error: uploaded.error },
      signedUrl: signed.data.signedUrl,
      whole: {
        status: whole.status,
        type: whole.headers.get('content-type'),
        length: whole.headers.get('content-length'),
        same: Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(bytes)),
      },
      part: {
        status: part.status,
        range: part.headers.get('content-range'),
        same: Buffer.from(await part.arrayBuffer()).equals(Buffer.from(bytes.slice(100, 200))),
      },
      refused: {
        data: refused.data,
        error: refused.error && { name: refused.error.name, message: refused.error.message, status: refused.error.status, statusCode: refused.error.statusCode },
      },
      buckets: buckets.data && buckets.data.map((b) => b.id),
    }
  },
}

const name = process.argv[2]
if (!scenarios[name]) {
  console.error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
scenarios[name]()
  .then((result) => process.stdout.write(JSON.stringify(result)))
  .catch((error) => {
    console.error(error)
    process.exit(1)
  })
