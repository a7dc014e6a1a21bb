// A form's saving, as every edit form of the console does it.
import { useState } from "preact/hooks";
import type { Problem } from "../errors";

/**
 * The problem of the last save (its field errors beside their fields) or `saved` after a
 * success, until the next edit. `save` runs the call; `edited` clears "Saved." when typing.
 */
export function useSaving(onError: (err: unknown) => Problem) {
  const [problem, setProblem] = useState<Problem>();
  const [saved, setSaved] = useState(false);
  const save = async (work: () => Promise<void>) => {
    try {
      await work();
      setProblem(undefined);
      setSaved(true);
    } catch (err) {
      setSaved(false);
      setProblem(onError(err));
    }
  };
  /** Refused before any call: the fields to correct. */
  const refuse = (fields: Record<string, string>) => {
    setSaved(false);
    setProblem({ message: "Please correct the marked fields.", fields, signInAgain: false });
  };
  return { problem, setProblem, saved, save, refuse, edited: () => setSaved(false) };
}
