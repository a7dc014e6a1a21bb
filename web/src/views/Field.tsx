/** A labelled input with its error beneath, announced to screen readers. */
type Props = {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  type?: "text" | "email" | "password" | "number" | "date" | "datetime-local";
  required?: boolean;
  /** A datalist's id, for suggestions. */
  list?: string;
  hint?: string;
};

export function Field({ label, name, value, onInput, error, type = "text", required, list, hint }: Props) {
  const id = `field-${name}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type as "text"}
        value={value}
        required={required}
        aria-invalid={error ? "true" : undefined}
        list={list}
        aria-describedby={describedBy(id, hint, error)}
        onInput={(e) => onInput((e.target as HTMLInputElement).value)}
      />
      <Notes id={id} hint={hint} error={error} />
    </div>
  );
}

/** A labelled multi-line input with its error beneath. */
export function TextArea({ label, name, value, onInput, error, hint, rows = 6 }: Omit<Props, "type" | "list" | "required"> & { rows?: number }) {
  const id = `field-${name}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea
        id={id}
        name={name}
        rows={rows}
        value={value}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
      />
      <Notes id={id} hint={hint} error={error} />
    </div>
  );
}

/** The ids of a field's hint and error, which describe its input. */
function describedBy(id: string, hint?: string, error?: string): string | undefined {
  return [error && `${id}-error`, hint && `${id}-hint`].filter(Boolean).join(" ") || undefined;
}

/** A field's hint and error beneath its input. */
function Notes({ id, hint, error }: { id: string; hint?: string; error?: string }) {
  return (
    <>
      {hint && (
        <span id={`${id}-hint`} class="hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} class="field-error">
          {error}
        </span>
      )}
    </>
  );
}
