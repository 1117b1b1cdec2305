// Who is signed in, for every component. Pages rendered on the server hand over the learner
// that Supabase Auth confirmed (pageProps.user); the browser's Supabase client is loaded only
// when it is needed (the sign-in pages, sign-out, a prerendered page opened with a session
// cookie), which keeps it out of the JavaScript every page loads first. Once loaded,
// onAuthStateChange keeps the state current (sign-in, sign-out, token refresh).
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";

import { browserConfig, type PublicConfig } from "@/lib/config";
import type { ShopClient } from "@/lib/supabase";
import type { ShopUser } from "@/types/shop";

export type AuthResult = { ok: true; needsConfirmation?: boolean } | { ok: false; message: string };

export type AuthState = {
  user: ShopUser | null;
  /** Whether `user` is known: the server confirmed it for this page, or the browser read the session. */
  checked: boolean;
  /** Load the Supabase client ahead of need (a sign-in form does, on mount). */
  prepare(): void;
  signIn(email: string, password: string): Promise<AuthResult>;
  signUp(email: string, password: string): Promise<AuthResult>;
  signOut(): Promise<AuthResult>;
  /** Mail a password reset link (Supabase Auth answers alike whether or not the account exists). */
  requestPasswordReset(email: string): Promise<AuthResult>;
  /** Set a new password for the signed-in learner (after the reset link signed them in). */
  updatePassword(password: string): Promise<AuthResult>;
  /** Ask to move the account to `email`: Auth mails links that confirm it (account page). */
  changeEmail(email: string): Promise<AuthResult>;
};

const AuthContext = createContext<AuthState | null>(null);

const UNAVAILABLE = "We couldn't reach the sign-in service. Please try again in a moment.";

function plain(message: string | undefined, fallback: string): string {
  if (!message) return fallback;
  if (/invalid login credentials/i.test(message)) return "That email and password don't match an account.";
  if (/has already been registered/i.test(message)) return "Another account already uses that email.";
  if (/already registered|already exists/i.test(message))
    return "An account with that email already exists. Sign in instead.";
  if (/fetch|network/i.test(message)) return UNAVAILABLE;
  if (/different from the old password/i.test(message)) return "That is your current password. Choose a new one.";
  if (/for security purposes/i.test(message)) return "We just sent a link. Please wait a moment before asking again.";
  if (/session missing|session_not_found|jwt/i.test(message)) return "Your reset link has expired. Ask for a new one.";
  return message.endsWith(".") ? message : `${message}.`;
}

async function browserClient(config: PublicConfig): Promise<ShopClient> {
  const { createBrowserSupabase } = await import("@/lib/browserSupabase");
  return createBrowserSupabase(config);
}

// @supabase/ssr's session cookie (`sb-<ref>-auth-token`, or its `.0`, `.1` chunks)
const SESSION_COOKIE = /(?:^|;\s*)sb-[^=;]*-auth-token(?:\.\d+)?=/;

// the cookie is only read, never watched: a sign-in or sign-out here goes through the client
const noSubscription = () => () => undefined;

function sameUser(a: ShopUser | null | undefined, b: ShopUser | null | undefined): boolean {
  return (a?.id ?? null) === (b?.id ?? null) && (a?.email ?? null) === (b?.email ?? null);
}

export function AuthProvider({
  config: given,
  serverUser,
  children,
}: {
  /** The Supabase project; by default what /api/runtime-config gave the page (lib/config.ts). */
  config?: PublicConfig | null;
  /** The learner the server confirmed for this page; undefined when the page did not say. */
  serverUser?: ShopUser | null;
  children: ReactNode;
}) {
  const [user, setUser] = useState<ShopUser | null>(serverUser ?? null);
  const [checked, setChecked] = useState(serverUser !== undefined);
  const [lastServerUser, setLastServerUser] = useState(serverUser);
  if (serverUser !== undefined && !sameUser(serverUser, lastServerUser)) {
    // a page the server rendered since: it has the final word
    setLastServerUser(serverUser);
    setUser(serverUser);
    setChecked(true);
  }

  const client = useRef<Promise<ShopClient> | null>(null);
  const unsubscribe = useRef<(() => void) | null>(null);
  const connect = useCallback((): Promise<ShopClient> | null => {
    const config = given === undefined ? browserConfig() : given;
    if (!config) return null;
    if (!client.current) {
      client.current = browserClient(config).then((loaded) => {
        const { data } = loaded.auth.onAuthStateChange((_event, session) => {
          const next = session?.user ? { id: session.user.id, email: session.user.email ?? null } : null;
          setUser((current) => (sameUser(current, next) ? current : next));
          setChecked(true);
        });
        unsubscribe.current = () => data.subscription.unsubscribe();
        return loaded;
      });
      client.current.catch(() => {
        client.current = null; // the chunk failed to load: try again next time
      });
    }
    return client.current;
  }, [given]);

  // A prerendered page (no learner from the server): a session cookie means someone may be
  // signed in, so the client reads it (onAuthStateChange then says who); without one, nobody is.
  // The cookie is read after hydration (null until then, as on the server).
  const [prerendered] = useState(serverUser === undefined);
  const hasSessionCookie = useSyncExternalStore(
    noSubscription,
    () => SESSION_COOKIE.test(document.cookie),
    () => null,
  );
  useEffect(() => {
    if (!prerendered || !hasSessionCookie) return;
    Promise.resolve(connect()).then(
      (loaded) => loaded ?? setChecked(true),
      () => setChecked(true),
    );
  }, [connect, hasSessionCookie, prerendered]);
  const known = checked || (prerendered && hasSessionCookie === false);

  useEffect(() => () => unsubscribe.current?.(), []);

  const value = useMemo<AuthState>(() => {
    const missing: AuthResult = { ok: false, message: UNAVAILABLE };
    const withClient = async (act: (loaded: ShopClient) => Promise<AuthResult>): Promise<AuthResult> => {
      const pending = connect();
      if (!pending) return missing;
      try {
        return await act(await pending);
      } catch {
        return missing;
      }
    };
    return {
      user,
      checked: known,
      prepare() {
        void connect()?.catch(() => undefined);
      },
      signIn: (email, password) =>
        withClient(async (loaded) => {
          const { data, error } = await loaded.auth.signInWithPassword({ email, password });
          if (error) return { ok: false, message: plain(error.message, "Sign-in failed.") };
          setUser({ id: data.user.id, email: data.user.email ?? null });
          return { ok: true };
        }),
      signUp: (email, password) =>
        withClient(async (loaded) => {
          const { data, error } = await loaded.auth.signUp({ email, password });
          if (error) return { ok: false, message: plain(error.message, "We couldn't create the account.") };
          if (data.session && data.user) setUser({ id: data.user.id, email: data.user.email ?? null });
          return { ok: true, needsConfirmation: data.session === null };
        }),
      signOut: () =>
        withClient(async (loaded) => {
          const { error } = await loaded.auth.signOut();
          if (error) return { ok: false, message: plain(error.message, "Sign-out failed.") };
          setUser(null);
          return { ok: true };
        }),
      requestPasswordReset: (email) =>
        withClient(async (loaded) => {
          // the PKCE flow (@supabase/ssr's browser client); the mail links to /api/auth/confirm
          const { error } = await loaded.auth.resetPasswordForEmail(email, {
            redirectTo: `${window.location.origin}/reset-password`,
          });
          if (error) return { ok: false, message: plain(error.message, "We couldn't send the link.") };
          return { ok: true };
        }),
      updatePassword: (password) =>
        withClient(async (loaded) => {
          const { data, error } = await loaded.auth.updateUser({ password });
          if (error) return { ok: false, message: plain(error.message, "We couldn't change the password.") };
          setUser({ id: data.user.id, email: data.user.email ?? null });
          return { ok: true };
        }),
      changeEmail: (email) =>
        withClient(async (loaded) => {
          const { error } = await loaded.auth.updateUser(
            { email },
            { emailRedirectTo: `${window.location.origin}/account` },
          );
          if (error) return { ok: false, message: plain(error.message, "We couldn't change the email.") };
          return { ok: true };
        }),
    };
  }, [connect, known, user]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in state; only inside <AuthProvider>. */
export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}
