// Small shared pieces: labelled fields with their errors, alerts, dialogs, dates.
import { html, useEffect, useRef } from "./lib.js";

function described(id, hint, error) {
  return [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
}

export function FieldError({ id, error }) {
  return error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : null;
}

/** A labelled input; `error` (from userErrors) is shown under it and announced with it. */
export function Field({ id, label, hint, error, value, onValue, multiline = false, ...rest }) {
  const common = {
    id,
    value,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described(id, hint, error),
    onInput: (event) => onValue(event.currentTarget.value),
    ...rest,
  };
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    ${multiline ? html`<textarea ...${common}></textarea>` : html`<input ...${common} />`}
    <${FieldError} id=${id} error=${error} />
  </div>`;
}

/** "Sign out other sessions", offered with every change of the second factor; on by default. */
export function SignOutOthers({ id, checked, onChange }) {
  return html`<div class="check">
    <input type="checkbox" id=${id} checked=${checked} onChange=${(e) => onChange(e.currentTarget.checked)} />
    <label for=${id}>Sign out other sessions</label>
  </div>`;
}

export function Alert({ children, kind = "error" }) {
  if (!children) return null;
  return html`<p class=${`alert alert-${kind}`} role=${kind === "error" ? "alert" : "status"}>${children}</p>`;
}

/** A modal <dialog>: focus is kept inside, Escape closes it, and `onClose` runs either way. */
export function Dialog({ labelledBy, onClose, children, className = "" }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.open && dialog.close();
  }, []);
  return html`<dialog ref=${ref} class=${`dialog ${className}`} aria-labelledby=${labelledBy}
    onClose=${onClose}>${children}</dialog>`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** A date and time; `only="time"` or `only="date"` shows one half (the other in a tooltip). */
export function Time({ value, fallback = "—", only = null }) {
  if (!value) return fallback;
  const date = new Date(value);
  const text = only === "time" ? timeOnly.format(date) : only === "date" ? dateOnly.format(date) : dateTime.format(date);
  return html`<time datetime=${value} title=${only ? dateTime.format(date) : undefined}>${text}</time>`;
}

export const DAY_MS = 24 * 3600 * 1000;

/** Download `text` as a file without a server round trip (a blob: URL, revoked after). */
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
