import { useEffect, useRef } from "preact/hooks";
import { GO_TO } from "../shortcuts";
import { t } from "../i18n";

/** The keyboard shortcuts, listed in a dialog (`?` opens it, Esc or Close shuts it). */
export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="shortcuts" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">{t("Keyboard shortcuts")}</h2>
      <dl>
        <div>
          <dt><kbd>?</kbd></dt>
          <dd>{t("This list")}</dd>
        </div>
        <div>
          <dt>
            <kbd>Ctrl</kbd> <kbd>K</kbd>, <kbd>/</kbd>
          </dt>
          <dd>{t("Find a customer, contact, lead or deal")}</dd>
        </div>
        {Object.entries(GO_TO).map(([letter, { label }]) => (
          <div key={letter}>
            <dt>
              <kbd>g</kbd> {t("then")} <kbd>{letter}</kbd>
            </dt>
            <dd>{t("Go to {{screen}}", { screen: t(label) })}</dd>
          </div>
        ))}
        <div>
          <dt>{t("The first Tab on a page")}</dt>
          <dd>{t("Skip to the first row of the list")}</dd>
        </div>
      </dl>
      <button type="button" onClick={() => dialog.current?.close()}>
        {t("Close")}
      </button>
    </dialog>
  );
}

/** Moves the focus to the first row of the screen's list (its first link or button), else the screen's heading. */
export function skipToContent() {
  const first = document.querySelector<HTMLElement>("main tbody a, main tbody button");
  if (first) return first.focus();
  const heading = document.querySelector<HTMLElement>("main h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}
