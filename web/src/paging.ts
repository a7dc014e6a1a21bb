// Lists that come a page at a time (AIP-158: a page token in, the next one out, empty at the end).

/**
 * Every item of such a list, asking for page after page until the last one or `limit` items;
 * `more` says a limit stopped it with pages left.
 */
export async function allPages<T>(
  page: (pageToken: string) => Promise<{ items: T[]; next: string }>,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const answer = await page(pageToken);
    items.push(...answer.items);
    pageToken = answer.next;
  } while (pageToken && items.length < limit);
  return { items, more: pageToken !== "" };
}
