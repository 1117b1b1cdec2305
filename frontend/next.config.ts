import path from "node:path";
import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // this folder, not the project root whose package-lock.json pins the Supabase CLI (next dev
  // runs Turbopack; the production build runs webpack, as frontend/README.md explains)
  turbopack: { root: path.resolve(__dirname) },
  outputFileTracingRoot: path.resolve(__dirname),
  async redirects() {
    return [{ source: "/", destination: "/lessons", permanent: false }];
  },
};

export default nextConfig;
