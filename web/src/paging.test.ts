import { expect, it } from "vitest";
import { allPages } from "./paging";

/** A list of `n` numbers served `size` at a time, counting the pages asked for. */
function served(n: number, size: number) {
  const asked: string[] = [];
  const page = async (token: string) => {
    asked.push(token);
    const from = token ? Number(token) : 0;
    const items = Array.from({ length: Math.min(size, n - from) }, (_, i) => from + i);
    return { items, next: from + size < n ? String(from + size) : "" };
  };
  return { page, asked };
}

it("reads every page, passing each next token on", async () => {
  const { page, asked } = served(5, 2);
  expect(await allPages(page)).toEqual({ items: [0, 1, 2, 3, 4], more: false });
  expect(asked).toEqual(["", "2", "4"]);
});

it("stops at the limit and says pages are left", async () => {
  const { page, asked } = served(10, 3);
  expect(await allPages(page, 5)).toEqual({ items: [0, 1, 2, 3, 4, 5], more: true });
  expect(asked).toEqual(["", "3"]);
});
