/** A labelled input with its error beneath, announced to screen readers. */
type Props = {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  type?: "text" | "email" | "password" | "number";
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
        aria-describedby={[error && `${id}-error`, hint && `${id}-hint`].filter(Boolean).join(" ") || undefined}
        onInput={(e) => onInput((e.target as HTMLInputElement).value)}
      />
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
    </div>
  );
}
