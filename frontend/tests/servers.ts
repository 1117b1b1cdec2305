// Real HTTP servers on free ports for the tests: what the code under test talks to over the
// network (Supabase Auth, the sidecar) answers from here, in the shapes the real services use.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { createServerClient } from "@supabase/ssr";

export type Recorded = { method: string; url: string; headers: IncomingMessage["headers"]; body: string };

export type Running = { url: string; requests: Recorded[]; close(): Promise<void> };

type Handler = (req: Recorded, res: ServerResponse) => unknown;

export async function serve(handler: Handler): Promise<Running> {
  const requests: Recorded[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    requests.push(recorded);
    await handler(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A free port with nothing listening on it (a service that is down). */
export async function closedPort(): Promise<string> {
  const server = await serve(() => undefined);
  await server.close();
  return server.url;
}

function base64url(value: string): string {
  return Buffer.from(value).toString("base64url");
}

/** A JWT shaped like Supabase Auth's access tokens (the fake Auth server checks it by value). */
export function accessToken(userId: string, email: string): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: userId, email, role: "authenticated", aud: "authenticated", iat: now, exp: now + 3600 };
  return `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}.c2lnbmF0dXJl`;
}

export function gotrueUser(userId: string, email: string) {
  return {
    id: userId,
    aud: "authenticated",
    role: "authenticated",
    email,
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: {},
    created_at: "2026-11-28T10:00:00Z",
    updated_at: "2026-11-28T10:00:00Z",
    is_anonymous: false,
  };
}

export function gotrueSession(userId: string, email: string) {
  const now = Math.floor(Date.now() / 1000);
  return {
    access_token: accessToken(userId, email),
    token_type: "bearer",
    expires_in: 3600,
    expires_at: now + 3600,
    refresh_token: "refresh-token-1",
    user: gotrueUser(userId, email),
  };
}

/** A Supabase Auth stand-in: password grant, /user with a token it issued, logout, and the
 * admin API's user deletion with `secretKey` (its users' tokens stop working). */
export type FakeAuth = Running & {
  /** Make the server recognise a session minted by the test itself. */
  issue(session: { access_token: string; user: { id: string; email: string } }): void;
  /** The status the admin API answers a deletion with next (200 by default). */
  adminStatus: number;
};

export async function fakeAuth(
  accounts: Record<string, { id: string; password: string }>,
  secretKey = "sb_secret_test",
): Promise<FakeAuth> {
  const issued = new Map<string, { id: string; email: string }>();
  const state = { adminStatus: 200 };
  return serve((req, res) => {
    const path = req.url.split("?")[0] ?? "";
    const adminDelete = /^\/auth\/v1\/admin\/users\/([^/]+)$/.exec(path);
    if ((req.method === "DELETE" || req.method === "GET") && adminDelete) {
      if (req.headers.apikey !== secretKey || req.headers.authorization !== `Bearer ${secretKey}`) {
        return json(res, 403, { code: 403, error_code: "not_admin", msg: "User not allowed" });
      }
      const known = [...issued].filter(([, who]) => who.id === adminDelete[1]);
      if (known.length === 0) return json(res, 404, { code: 404, error_code: "user_not_found", msg: "User not found" });
      // supabase-js reads the user (GET) before it deletes it
      if (req.method === "GET") return json(res, 200, gotrueUser(known[0]![1].id, known[0]![1].email));
      if (state.adminStatus !== 200) return json(res, state.adminStatus, { code: state.adminStatus, msg: "failed" });
      for (const [token] of known) issued.delete(token);
      return json(res, 200, {});
    }
    if (req.method === "POST" && path === "/auth/v1/token" && req.url.includes("grant_type=password")) {
      const { email, password } = JSON.parse(req.body) as { email: string; password: string };
      const account = accounts[email];
      if (!account || account.password !== password) {
        return json(res, 400, { code: 400, error_code: "invalid_credentials", msg: "Invalid login credentials" });
      }
      const session = gotrueSession(account.id, email);
      issued.set(session.access_token, { id: account.id, email });
      return json(res, 200, session);
    }
    if (req.method === "GET" && path === "/auth/v1/user") {
      const token = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
      const who = issued.get(token);
      if (!who) return json(res, 403, { code: 403, error_code: "bad_jwt", msg: "invalid JWT" });
      return json(res, 200, gotrueUser(who.id, who.email));
    }
    if (req.method === "POST" && path === "/auth/v1/logout") {
      res.writeHead(204);
      return res.end();
    }
    return json(res, 404, { code: 404, msg: "not found" });
  }).then(
    (running) =>
      Object.defineProperties(
        Object.assign(running, {
          issue(session: { access_token: string; user: { id: string; email: string } }) {
            issued.set(session.access_token, session.user);
          },
        }),
        {
          adminStatus: {
            get: () => state.adminStatus,
            set: (value: number) => {
              state.adminStatus = value;
            },
          },
        },
      ) as FakeAuth,
  );
}

/** The Cookie header @supabase/ssr writes for a signed-in learner (Auth is told of the token). */
export async function sessionCookie(auth: FakeAuth, userId: string, anonKey: string): Promise<string> {
  const session = gotrueSession(userId, "learner@example.com");
  auth.issue(session);
  const jar = new Map<string, string>();
  const client = createServerClient(auth.url, anonKey, {
    cookies: {
      getAll: () => [...jar].map(([name, value]) => ({ name, value })),
      setAll: (cookies) => cookies.forEach(({ name, value }) => jar.set(name, value)),
    },
  });
  const { error } = await client.auth.setSession(session);
  if (error) throw error;
  return [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
}
