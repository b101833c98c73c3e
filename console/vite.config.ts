import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

declare const process: { env: Record<string, string | undefined> };  // Node's, without @types/node

// `npm run dev` proxies the APIs to the gateway of `make run` (scripts/gateway.py), so that the console talks to
// one origin in development as in production.
const gateway = process.env.OPS_CONSOLE_GATEWAY ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": gateway, "/dev": gateway } },
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 2500 },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
