import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import { fileURLToPath } from "node:url";

// Built into the root's dist/ui/, served by the vault at /ui (src/console/static.ts). No inline
// script or style is emitted, so the strict CSP of spec/console.md §3 needs no 'unsafe-*'.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/ui/",
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL("../dist/ui/", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    // The polyfill would be an inline script; every browser the console supports has modulepreload.
    modulePreload: { polyfill: false },
    // Small assets are files too: a data: URL script or style would need a CSP exception.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
  },
});
