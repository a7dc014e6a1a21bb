import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { expect, it } from "vitest";

// The committed build the binary embeds: each compressed copy is its file, whole.
const assets = join(__dirname, "..", "dist", "assets");

it("serves compressed copies that are the files themselves", () => {
  const names = readdirSync(assets);
  const packed = names.filter((n) => n.endsWith(".br") || n.endsWith(".gz"));
  expect(packed.length).toBeGreaterThanOrEqual(6);
  for (const name of packed) {
    const original = readFileSync(join(assets, name.slice(0, -3)));
    const bytes = readFileSync(join(assets, name));
    const unpacked = name.endsWith(".br") ? brotliDecompressSync(bytes) : gunzipSync(bytes);
    expect(unpacked.equals(original), name).toBe(true);
  }
  // Every script and style sheet has both forms.
  for (const name of names.filter((n) => /\.(js|css)$/.test(n))) {
    expect(names, name).toContain(`${name}.br`);
    expect(names, name).toContain(`${name}.gz`);
  }
});
