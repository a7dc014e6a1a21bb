import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { CustomerBatchResultSchema } from "./gen/crm/customer/v1/customers_pb";
import { StatusSchema } from "./gen/google/rpc/status_pb";
import { chunks, inBatches, tally } from "./bulk";

const result = (id: string, code = 0, message = "") => create(CustomerBatchResultSchema, { id, status: create(StatusSchema, { code, message }) });

describe("bulk actions", () => {
  it("sends at most 100 ids a batch", () => {
    const ids = Array.from({ length: 250 }, (_, i) => `c${i}`);
    expect(chunks(ids).map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks([])).toEqual([]);
  });

  it("adds up what was done and what was not, with why", () => {
    const outcome = tally([result("a"), result("b", Code.NotFound, "customer b not found"), result("c")], { done: 1, failed: [] });
    expect(outcome).toEqual({ done: 3, failed: [{ id: "b", message: "customer b not found" }] });
  });

  it("sends each batch with its own key, a lost answer again with the same key, and reports progress", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `c${i}`);
    const sent: [number, string][] = [];
    let keys = 0;
    let lost = true;
    const progress: number[] = [];
    const outcome = await inBatches(
      ids,
      async (batch, key) => {
        sent.push([batch.length, key]);
        if (batch.length === 50 && lost) {
          lost = false;
          throw new ConnectError("connection reset", Code.Unavailable);
        }
        return batch.map((id) => (id === "c7" ? result(id, Code.PermissionDenied, "not yours") : result(id)));
      },
      (answered) => progress.push(answered),
      () => `key-${++keys}`,
    );
    expect(sent).toEqual([
      [100, "key-1"],
      [50, "key-2"],
      [50, "key-2"],
    ]);
    expect(progress).toEqual([100, 150]);
    expect(outcome).toEqual({ done: 149, failed: [{ id: "c7", message: "not yours" }] });
  });

  it("stops at a batch refused as a whole", async () => {
    const refused = inBatches(["a"], async () => {
      throw new ConnectError("no", Code.PermissionDenied);
    }, () => undefined);
    await expect(refused).rejects.toThrow("no");
  });
});
