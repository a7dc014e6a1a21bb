import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The console is embedded in the `crm` binary and served by the edge at `/`, so the build is
// committed (dist/) and CI checks it is what the sources build to.
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Stable names: a rebuild of the same sources gives the same files.
    rollupOptions: {
      output: {
        entryFileNames: "assets/console.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
  test: {
    environment: "node",
  },
});
