// Who is signed in, for every component: the session follows Supabase Auth through
// onAuthStateChange (sign-in, sign-out, token refresh, other tabs).
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import type { ShopClient } from "@/lib/supabase";
import type { ShopUser } from "@/types/shop";

export type AuthResult = { ok: true; needsConfirmation?: boolean } | { ok: false; message: string };

export type AuthState = {
  user: ShopUser | null;
  signIn(email: string, password: string): Promise<AuthResult>;
  signUp(email: string, password: string): Promise<AuthResult>;
  signOut(): Promise<AuthResult>;
};

const AuthContext = createContext<AuthState | null>(null);

const UNAVAILABLE = "We couldn't reach the sign-in service. Please try again in a moment.";

function plain(message: string | undefined, fallback: string): string {
  if (!message) return fallback;
  if (/invalid login credentials/i.test(message)) return "That email and password don't match an account.";
  if (/already registered|already exists/i.test(message)) return "An account with that email already exists. Sign in instead.";
  if (/fetch|network/i.test(message)) return UNAVAILABLE;
  return message.endsWith(".") ? message : `${message}.`;
}

export function AuthProvider({
  client,
  initialUser = null,
  children,
}: {
  client: ShopClient | null;
  initialUser?: ShopUser | null;
  children: ReactNode;
}) {
  const [user, setUser] = useState<ShopUser | null>(initialUser);

  useEffect(() => {
    if (!client) return;
    const { data } = client.auth.onAuthStateChange((_event, session) => {
      const next = session?.user ? { id: session.user.id, email: session.user.email ?? null } : null;
      setUser((current) => (current?.id === next?.id && current?.email === next?.email ? current : next));
    });
    return () => data.subscription.unsubscribe();
  }, [client]);

  const value = useMemo<AuthState>(() => {
    const missing: AuthResult = { ok: false, message: UNAVAILABLE };
    return {
      user,
      async signIn(email, password) {
        if (!client) return missing;
        try {
          const { error } = await client.auth.signInWithPassword({ email, password });
          return error ? { ok: false, message: plain(error.message, "Sign-in failed.") } : { ok: true };
        } catch {
          return missing;
        }
      },
      async signUp(email, password) {
        if (!client) return missing;
        try {
          const { data, error } = await client.auth.signUp({ email, password });
          if (error) return { ok: false, message: plain(error.message, "We couldn't create the account.") };
          return { ok: true, needsConfirmation: data.session === null };
        } catch {
          return missing;
        }
      },
      async signOut() {
        if (!client) return missing;
        try {
          const { error } = await client.auth.signOut();
          if (error) return { ok: false, message: plain(error.message, "Sign-out failed.") };
          setUser(null);
          return { ok: true };
        } catch {
          return missing;
        }
      },
    };
  }, [client, user]);

  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The signed-in state; only inside <AuthProvider>. */
export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth must be used inside <AuthProvider>");
  return value;
}
