// Small shared pieces: labelled fields with their errors, alerts, dialogs, dates, copying.
import { html, useEffect, useRef, useState } from "./lib.js";

function described(id, hint, error) {
  return [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
}

export function FieldError({ id, error }) {
  return error ? html`<p class="field-error" id=${`${id}-error`}>${error}</p>` : null;
}

/**
 * A labelled input; `error` (from userErrors) is shown under it and announced with it.
 * `action` (a button) sits on the input's own line, so an error appearing below moves nothing.
 */
export function Field({ id, label, hint, error, value, onValue, multiline = false, action = null, ...rest }) {
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
    ${action
      ? html`<div class="control-row">${multiline ? html`<textarea ...${common}></textarea>` : html`<input ...${common} />`}${action}</div>`
      : multiline ? html`<textarea ...${common}></textarea>` : html`<input ...${common} />`}
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
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dayAndSeconds = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" });

const FORMATS = { time: timeOnly, date: dateOnly, seconds: dayAndSeconds };

/**
 * A date and time; `only="time"` or `only="date"` shows one half, `only="seconds"` the day
 * and the time to the second (the whole, with the year, in a tooltip); `seconds` shows the
 * whole to the second.
 */
export function Time({ value, fallback = "—", only = null, seconds = false }) {
  if (!value) return fallback;
  const date = new Date(value);
  const text = (FORMATS[only] ?? (seconds ? dateTimeSeconds : dateTime)).format(date);
  return html`<time datetime=${value} title=${only ? dateTimeSeconds.format(date) : undefined}>${text}</time>`;
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

/** Focus a control that has just appeared and scroll it to the middle of its scroller. */
export function reveal(element) {
  if (!element) return;
  element.focus({ preventScroll: true });
  element.scrollIntoView({ block: "center" });
}

// One polite live region for the whole page: copy buttons and other quiet confirmations
// speak through it instead of each carrying a region of its own.
let speak = () => {};
const announce = (text) => speak(text);

export function Announcer() {
  const [text, setText] = useState("");
  useEffect(() => {
    let timer = null;
    speak = (next) => {
      setText(next);
      clearTimeout(timer);
      timer = setTimeout(() => setText(""), 4000);
    };
    return () => {
      clearTimeout(timer);
      speak = () => {};
    };
  }, []);
  return html`<p class="visually-hidden" role="status" aria-live="polite">${text}</p>`;
}

const COPY_ICON = html`<svg class="icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
  <rect x="5.5" y="5.5" width="8.5" height="8.5" rx="1.5" /><path d="M10.5 3V2.5a1 1 0 0 0-1-1h-7a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1H3" /></svg>`;
const DONE_ICON = html`<svg class="icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M3 8.5l3.2 3.2L13 4.5" /></svg>`;

/**
 * Copy `text` to the clipboard. With `label` the button is an icon named by it (e.g. "Copy
 * identifier"); otherwise it reads "Copy". Where the clipboard is refused, the text in
 * `selectId` is selected for Ctrl+C instead.
 */
export function CopyButton({ text, label = null, selectId = null, what = "Text" }) {
  const [copied, setCopied] = useState(false);
  const timer = useRef(null);
  useEffect(() => () => clearTimeout(timer.current), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      announce(`${what} copied to the clipboard.`);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(false), 2000);
    } catch {
      const target = selectId && document.getElementById(selectId);
      if (target) {
        const range = document.createRange();
        range.selectNodeContents(target);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
      }
      announce(target ? "Selected: press Ctrl+C (⌘C) to copy." : "The browser refused the clipboard.");
    }
  }
  if (label) {
    return html`<button type="button" class=${`icon-button${copied ? " done" : ""}`} aria-label=${label}
      title=${copied ? "Copied" : label} onClick=${copy}>${copied ? DONE_ICON : COPY_ICON}</button>`;
  }
  return html`<button type="button" onClick=${copy}>Copy</button>
    ${copied && html`<span class="copy-note" aria-hidden="true">Copied</span>`}`;
}
