// A list's bulk actions: the selected ids sent 100 at a time (the most a batch RPC takes), each
// batch with its own request_id, so a batch whose answer was lost is sent again with the same
// key and changes nothing twice; the outcomes of every customer added up.
import { Code, ConnectError } from "@connectrpc/connect";
import type { CustomerBatchResult } from "./gen/crm/customer/v1/customers_pb";

/** The most ids one batch takes (`BatchUpdateCustomers`, `BatchDeleteCustomers`). */
export const BATCH = 100;

/** What became of a bulk action: how many were done, and each one that was not, with why. */
export type Outcome = { done: number; failed: { id: string; message: string }[] };

/** `all` in runs of at most `size`. */
export function chunks<T>(all: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}

/** `results` added to `into`: an OK status is done, anything else failed with its message. */
export function tally(results: CustomerBatchResult[], into: Outcome): Outcome {
  const failed = [...into.failed];
  let done = into.done;
  for (const r of results) {
    if ((r.status?.code ?? Code.Unknown) === 0) done++;
    else failed.push({ id: r.id, message: r.status?.message ?? "" });
  }
  return { done, failed };
}

/** Whether a batch that failed as a whole may be sent again with the same key. */
const retryable = (err: unknown) => [Code.Unavailable, Code.DeadlineExceeded].includes(ConnectError.from(err).code);

/**
 * Sends `ids` in batches through `send` (given each batch's ids and request_id), telling
 * `progress` how many have been answered; a batch that fails as a whole for a passing reason
 * is sent once more with the same request_id. A batch refused as a whole stops the rest (its
 * error is thrown, with what was done before it in `outcome`).
 */
export async function inBatches(
  ids: string[],
  send: (ids: string[], requestId: string) => Promise<CustomerBatchResult[]>,
  progress: (answered: number, outcome: Outcome) => void,
  newKey: () => string = () => crypto.randomUUID(),
): Promise<Outcome> {
  let outcome: Outcome = { done: 0, failed: [] };
  let answered = 0;
  for (const batch of chunks(ids)) {
    const key = newKey();
    let results: CustomerBatchResult[];
    try {
      results = await send(batch, key);
    } catch (err) {
      if (!retryable(err)) throw err;
      results = await send(batch, key);
    }
    outcome = tally(results, outcome);
    answered += batch.length;
    progress(answered, outcome);
  }
  return outcome;
}
