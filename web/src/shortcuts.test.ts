import { describe, expect, it } from "vitest";
import { shortcutOf } from "./shortcuts";

const key = (k: string, more: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean; tagName: string }> = {}) => ({
  key: k,
  ctrlKey: more.ctrlKey ?? false,
  metaKey: more.metaKey ?? false,
  altKey: more.altKey ?? false,
  target: { tagName: more.tagName ?? "BODY" } as unknown as EventTarget,
});

describe("keyboard shortcuts", () => {
  it("lists them, searches and goes to a screen", () => {
    expect(shortcutOf(key("?"), false)).toEqual({ kind: "help" });
    expect(shortcutOf(key("/"), false)).toEqual({ kind: "search" });
    expect(shortcutOf(key("g"), false)).toEqual({ kind: "pending" });
    expect(shortcutOf(key("c"), true)).toEqual({ kind: "go", hash: "#customers" });
    expect(shortcutOf(key("P"), true)).toEqual({ kind: "go", hash: "#pipeline" });
    expect(shortcutOf(key("x"), true)).toBeUndefined();
    expect(shortcutOf(key("c"), false)).toBeUndefined();
  });

  it("leaves typing and the browser's own keys alone", () => {
    for (const tagName of ["INPUT", "TEXTAREA", "SELECT"]) expect(shortcutOf(key("/", { tagName }), false)).toBeUndefined();
    expect(shortcutOf(key("?", { ctrlKey: true }), false)).toBeUndefined();
    expect(shortcutOf(key("g", { metaKey: true }), false)).toBeUndefined();
    expect(shortcutOf(key("c", { altKey: true }), true)).toBeUndefined();
  });

  it("opens the search box with Ctrl+K or ⌘K, even while typing", () => {
    expect(shortcutOf(key("k", { ctrlKey: true }), false)).toEqual({ kind: "search" });
    expect(shortcutOf(key("K", { metaKey: true, tagName: "INPUT" }), false)).toEqual({ kind: "search" });
    expect(shortcutOf(key("k"), false)).toBeUndefined();
    expect(shortcutOf(key("k", { ctrlKey: true, altKey: true }), false)).toBeUndefined();
  });
});
