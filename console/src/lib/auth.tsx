// Who is signed in: the claims of the bearer token the console holds (decoded only to show the user and choose the
// pages; the services verify it on every request).
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { getToken, setToken } from "./api";

export interface Claims {
  sub: string;
  name?: string;
  roles: string[];
  city?: string;
  products?: string[];
  vendor?: string;
  exp?: number;
}

// With OIDC sign-in (lib/oidc.ts) the token's claims are the identity provider's: it registers how to map them.
let claimsMapper: ((raw: Record<string, unknown>) => Claims) | null = null;
export function registerClaimsMapper(mapper: ((raw: Record<string, unknown>) => Claims) | null) {
  claimsMapper = mapper;
}

export function decodeClaims(token: string | null): Claims | null {
  if (!token) return null;
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="))
        .split("")
        .map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
        .join(""),
    );
    const raw = JSON.parse(json) as Record<string, unknown>;
    const claims = claimsMapper ? claimsMapper(raw) : (raw as unknown as Claims);
    if (!Array.isArray(claims.roles)) claims.roles = [];
    if (claims.exp && claims.exp * 1000 < Date.now()) return null;
    return claims;
  } catch {
    return null;
  }
}

interface AuthState {
  user: Claims | null;
  signIn: (token: string) => void;
  signOut: () => void;
  has: (...roles: string[]) => boolean;
}

const AuthContext = createContext<AuthState>({ user: null, signIn: () => {}, signOut: () => {}, has: () => false });

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<Claims | null>(() => decodeClaims(getToken()));
  useEffect(() => {
    const expired = () => {
      setToken(null);
      setUser(null);
    };
    window.addEventListener("ops:unauthorized", expired);
    return () => window.removeEventListener("ops:unauthorized", expired);
  }, []);
  const state: AuthState = {
    user,
    signIn: (token) => {
      setToken(token);
      setUser(decodeClaims(token));
    },
    signOut: () => {
      setToken(null);
      setUser(null);
    },
    has: (...roles) => !!user && (user.roles.includes("admin") || roles.some((r) => user.roles.includes(r))),
  };
  return <AuthContext.Provider value={state}>{children}</AuthContext.Provider>;
}

export const useAuth = () => useContext(AuthContext);
