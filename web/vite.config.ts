import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import preact from "@preact/preset-vite";

/**
 * Each text file of the build also compressed, beside it (`.br`, `.gz`), so the binary serves
 * the smallest its browser accepts without compressing on every request. Read back from disk
 * once written: only then are the files final (Vite fills in its preload list last).
 */
function precompressed(): Plugin {
  return {
    name: "kilang-precompressed",
    apply: "build",
    enforce: "post",
    writeBundle(options, bundle) {
      const dir = options.dir ?? "dist";
      for (const name of Object.keys(bundle).sort()) {
        if (!/\.(js|css|html|svg)$/.test(name)) continue;
        const bytes = readFileSync(join(dir, name));
        if (bytes.length < 1024) continue;
        writeFileSync(join(dir, `${name}.br`), brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [preact(), precompressed()],
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
