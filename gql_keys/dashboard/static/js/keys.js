// API Management: the keys table (one key a line, its actions in its row), Create New Key,
// Edit, Roll secret and Delete with confirmation; and the deleted keys.
import { errorsByField, gql, KEY_FIELDS } from "./api.js";
import { CreateKeyDialog } from "./create-key.js";
import { EditKeyDialog, RollKeyDialog } from "./edit-key.js";
import { ReleaseDialog } from "./key-safety.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { headlineScopes, pendingScopes, quarantineReasonName, scopeTitle, statusName } from "./names.js";
import { Alert, CopyButton, DAY_MS, Dialog, Time } from "./ui.js";

const KEYS = `query Keys { apiKeys(first: 100) { nodes { ${KEY_FIELDS} } totalCount }
  everKeys: apiKeys(first: 1, includeDeleted: true) { totalCount }
  scopeCatalog { scope title description area } }`;
const DELETED = `query DeletedKeys($after: String) {
  apiKeys(first: 100, after: $after, includeDeleted: true) {
    nodes { ${KEY_FIELDS} } pageInfo { hasNextPage endCursor } }
  scopeCatalog { scope title description area } }`;
const DELETE = `mutation DeleteApiKey($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { field message code } }
}`;
export const UNUSED_DAYS = 30;
export const EXPIRING_DAYS = 7;
const SHOWN_SCOPES = 1;
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/**
 * The marks a key earns: unused for 30 days (never used counts from creation), expiring
 * soon. `text` is the short badge, `title` the sentence on hover.
 */
export function keyMarks(apiKey, now = Date.now()) {
  const marks = [];
  const lastActive = new Date(apiKey.lastUsedAt ?? apiKey.createdAt).getTime();
  if (apiKey.status === "ACTIVE" && now - lastActive >= UNUSED_DAYS * DAY_MS) {
    marks.push({
      kind: "unused",
      text: apiKey.lastUsedAt ? `Idle ${UNUSED_DAYS}+ days` : "Never used",
      title: apiKey.lastUsedAt
        ? `Last used ${dateOnly.format(new Date(apiKey.lastUsedAt))}: unused for ${UNUSED_DAYS}+ days`
        : `Never used in the ${UNUSED_DAYS}+ days since it was created`,
    });
  }
  if (apiKey.status === "ACTIVE" && apiKey.expiresAt) {
    const left = new Date(apiKey.expiresAt).getTime() - now;
    if (left <= EXPIRING_DAYS * DAY_MS) {
      const days = Math.max(0, Math.ceil(left / DAY_MS));
      const text = days <= 1 ? "Within a day" : `In ${days} days`;
      marks.push({ kind: "expiring", text, title: `Expires ${dateOnly.format(new Date(apiKey.expiresAt))}` });
    }
  }
  return marks;
}

const Mark = ({ mark }) => mark && html`<span class=${`badge badge-${mark.kind}`} title=${mark.title}>${mark.text}</span>`;

const PENDING_ICON = html`<svg class="icon pending-icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
  <circle cx="8" cy="8" r="6.25" /><path d="M8 4.5V8l2.5 1.5" /></svg>`;

const keyHref = (apiKey) => `#/keys/${encodeURIComponent(apiKey.id)}`;

/**
 * The first items as chips, the rest counted in a "+N" chip that names them (hover and
 * screen readers); the cell keeps to one line. An item is its text, or { text, className,
 * pendingFrom } (a scope a pending change adds: marked "pending" with when, in words).
 */
function Chips({ items, shown = SHOWN_SCOPES, className = "tags" }) {
  const all = items.map((item) => (typeof item === "string" ? { text: item } : item));
  const spoken = (item) => (item.pendingFrom ? `${item.text} (pending, from ${dateTime.format(new Date(item.pendingFrom))})` : item.text);
  const rest = all.slice(shown).map(spoken);
  return html`<ul class=${`${className} one-line`}>
    ${all.slice(0, shown).map((item) => (item.pendingFrom
      ? html`<li key=${item.text} class=${`${item.className ?? ""} pending`} title=${spoken(item)}><span>${item.text}</span>${PENDING_ICON}<span
          class="visually-hidden">, pending: takes effect ${dateTime.format(new Date(item.pendingFrom))}</span></li>`
      : html`<li key=${item.text} class=${item.className} title=${item.text}>${item.text}</li>`))}
    ${rest.length > 0 && html`<li class="more" title=${rest.join(", ")}>
      <span aria-hidden="true">+${rest.length}</span><span class="visually-hidden">${rest.join(", ")}</span></li>`}
  </ul>`;
}

/**
 * A key's permissions as chips, riskiest first (Withdraw stands out); with a pending
 * change, the scopes it adds are there too, marked pending.
 */
export const scopeChips = (catalog, apiKey) => {
  const adds = pendingScopes(apiKey);
  return headlineScopes([...apiKey.scopes, ...adds]).map((scope) => ({
    text: scopeTitle(catalog, scope),
    className: scope === "WITHDRAW" ? "scope-withdraw" : undefined,
    pendingFrom: adds.includes(scope) ? apiKey.pendingChange.effectiveAt : undefined,
  }));
};

/** The key identifier, cut to fit with the whole on hover, and a button that copies it. */
export function KeyIdentifier({ value }) {
  return html`<span class="key-id"><code title=${value}>${value}</code>
    <${CopyButton} text=${value} label="Copy identifier" what="Identifier" /></span>`;
}

/**
 * The status in words, and the canary and pending-change marks, on one line. `compact`
 * (the table) leaves out "Change pending" when the permissions cell already marks it.
 */
export function KeyStatus({ apiKey, compact = false }) {
  const why = apiKey.status === "QUARANTINED" ? `Quarantined: ${quarantineReasonName(apiKey.quarantineReason)}` : undefined;
  return html`<span class=${`status status-${apiKey.status.toLowerCase()}`} title=${why}>${statusName(apiKey.status)}</span>${
    apiKey.canary && html`<span class="badge badge-canary" title="A decoy: every use is denied and reported">Canary</span>`}${
    apiKey.pendingChange && (pendingScopes(apiKey).length === 0 || !compact) && html`<span class="badge badge-pending"
      title=${`A change takes effect ${dateTime.format(new Date(apiKey.pendingChange.effectiveAt))}`}>Change pending</span>`}`;
}

function KeyRow({ apiKey, catalog, onAction }) {
  const marks = keyMarks(apiKey);
  const mark = (kind) => marks.find((m) => m.kind === kind);
  const active = apiKey.status === "ACTIVE";
  const quarantined = apiKey.status === "QUARANTINED";
  const why = active ? undefined : `${statusName(apiKey.status)} keys cannot be changed: create a new one.`;
  return html`<tr>
    <th scope="row" class="key-label"><a href=${keyHref(apiKey)} title=${apiKey.label}>${apiKey.label}</a></th>
    <td><${KeyIdentifier} value=${apiKey.key} /></td>
    <td><${Chips} items=${scopeChips(catalog, apiKey)} /></td>
    <td>${apiKey.ipAllowlist.length
      ? html`<${Chips} items=${apiKey.ipAllowlist} shown=${1} className="plain addresses" />`
      : html`<span class="muted">Any address</span>`}</td>
    <td>${mark("unused") ? html`<${Mark} mark=${mark("unused")} />` : html`<${Time} value=${apiKey.lastUsedAt} fallback="Never" only="date" />`}</td>
    <td>${mark("expiring") ? html`<${Mark} mark=${mark("expiring")} />`
      : html`<${Time} value=${apiKey.expiresAt} fallback="Never" only="date" />`}</td>
    <td><${KeyStatus} apiKey=${apiKey} compact /></td>
    <td class="row-actions">
      ${quarantined
        ? html`<button type="button" class="small" onClick=${() => onAction("release", apiKey)}>Release</button>`
        : html`<button type="button" class="small" disabled=${!active} title=${why} onClick=${() => onAction("edit", apiKey)}>Edit</button>`}
      <button type="button" class="small" disabled=${!active && !quarantined} title=${quarantined ? undefined : why}
        onClick=${() => onAction("roll", apiKey)}>Roll secret</button>
      <button type="button" class="small danger-quiet" onClick=${() => onAction("delete", apiKey)}>Delete</button>
    </td>
  </tr>`;
}

/** A table of keys, one key a line, each with its actions (`onAction(kind, apiKey)`). */
export function KeysTable({ keys, catalog, onAction, caption }) {
  return html`<div class="table-wrap"><table class="keys">
    <caption class="visually-hidden">${caption}</caption>
    <thead><tr>
      <th scope="col">Label</th><th scope="col">Key</th><th scope="col">Permissions</th>
      <th scope="col">IP allowlist</th><th scope="col">Last used</th><th scope="col">Expires</th>
      <th scope="col">Status</th><th scope="col"><span class="visually-hidden">Actions</span></th>
    </tr></thead>
    <tbody>${keys.map((k) => html`<${KeyRow} key=${k.id} apiKey=${k} catalog=${catalog} onAction=${onAction} />`)}</tbody>
  </table></div>`;
}

/**
 * The dialog a table action or a create button opened: `dialog` is { kind, apiKey }
 * ("create" | "canary" | "edit" | "roll" | "release" | "delete"); `subAccountId` makes new
 * keys for that sub-account. `onChanged(message)` after anything changed (message may be "").
 */
export function KeyDialogs({ dialog, catalog, onClose, onChanged, subAccountId = null }) {
  const { kind, apiKey } = dialog;
  const after = (message) => { onClose(); onChanged(message); };
  if (kind === "create" || kind === "canary") {
    return html`<${CreateKeyDialog} catalog=${catalog} canary=${kind === "canary"} subAccountId=${subAccountId}
      onCreated=${() => onChanged("")} onClose=${onClose} />`;
  }
  if (kind === "edit") {
    return html`<${EditKeyDialog} apiKey=${apiKey} catalog=${catalog} onClose=${onClose}
      onSaved=${(saved, message) => after(`“${saved.label}”: ${message}`)} />`;
  }
  if (kind === "roll") {
    return html`<${RollKeyDialog} apiKey=${apiKey} onClose=${() => { onClose(); onChanged(""); }}
      onRolled=${() => onChanged(`Rolled the secret of “${apiKey.label}”.`)} />`;
  }
  if (kind === "release") {
    return html`<${ReleaseDialog} apiKey=${apiKey} onClose=${onClose}
      onDone=${(released) => after(`Released “${released.label}” from quarantine.`)} />`;
  }
  if (kind === "delete") {
    return html`<${DeleteDialog} apiKey=${apiKey} onClose=${onClose} onDeleted=${() => after(`Deleted “${apiKey.label}”.`)} />`;
  }
  return null;
}

function DeleteDialog({ apiKey, onClose, onDeleted }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    try {
      const result = (await gql(DELETE, { input: { id: apiKey.id } })).deleteApiKey;
      if (result.userErrors.length > 0) return setError(Object.values(errorsByField(result.userErrors)).join(" "));
      onDeleted();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<${Dialog} labelledBy="delete-title" onClose=${onClose}>
    <h2 id="delete-title">Delete “${apiKey.label}”?</h2>
    <p>Requests signed with <code>${apiKey.key}</code> are refused from now on. This cannot be undone.</p>
    <${Alert}>${error}<//>
    <div class="actions end">
      <button type="button" onClick=${onClose} autofocus>Cancel</button>
      <button type="button" class="danger" onClick=${confirm} disabled=${busy}>Delete key</button>
    </div>
  <//>`;
}

function EmptyState({ everHadKeys }) {
  if (!everHadKeys) {
    return html`<p class="empty card">No keys yet. Create one for each partner or program that calls the API.</p>`;
  }
  return html`<p class="empty card">No live keys. <a href="#/keys/deleted">See deleted keys</a> for their
    history and usage logs.</p>`;
}

export function KeysPage({ user, activityTick }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [dialog, setDialog] = useState(null); // { kind: "create" | "edit" | "roll" | "delete", apiKey }
  const [notice, setNotice] = useState("");
  const [onlyUnused, setOnlyUnused] = useState(false);

  const load = useCallback(async () => {
    try {
      const result = await gql(KEYS);
      setData({
        keys: result.apiKeys.nodes,
        deleted: result.everKeys.totalCount - result.apiKeys.totalCount,
        catalog: result.scopeCatalog,
      });
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load, activityTick]);

  const open = (kind, apiKey = null) => {
    setNotice("");
    setDialog({ kind, apiKey });
  };
  const close = () => setDialog(null);
  const shown = data ? data.keys.filter((k) => !onlyUnused || keyMarks(k).some((m) => m.kind === "unused")) : [];

  return html`<section aria-labelledby="keys-title">
    <div class="section-head">
      <h1 id="keys-title">API Management</h1>
      <div class="actions head-actions">
        <button type="button" disabled=${!user.twoFactorEnabled || !data}
          aria-describedby=${user.twoFactorEnabled ? "canary-hint" : "needs-2fa"}
          onClick=${() => open("canary")}>Create canary key</button>
        <button type="button" class="primary" disabled=${!user.twoFactorEnabled || !data}
          aria-describedby=${user.twoFactorEnabled ? undefined : "needs-2fa"}
          onClick=${() => open("create")}>Create New Key</button>
      </div>
      <p class="visually-hidden" id="canary-hint">A decoy to plant where a thief would look: every use is denied and reported to you.</p>
    </div>
    ${!user.twoFactorEnabled && html`<p class="hint" id="needs-2fa">Turn on two-factor authentication to create keys.</p>`}
    <${Alert} kind="info">${notice}<//>
    <${Alert}>${error}<//>
    ${data && data.keys.length > 0 && html`<div class="check table-filter">
      <input type="checkbox" id="only-unused" checked=${onlyUnused}
        onChange=${(e) => setOnlyUnused(e.currentTarget.checked)} />
      <label for="only-unused">Show only keys unused for ${UNUSED_DAYS} days</label>
    </div>`}
    ${data && (data.keys.length === 0
      ? html`<${EmptyState} everHadKeys=${data.deleted > 0} />`
      : html`<${KeysTable} keys=${shown} catalog=${data.catalog} onAction=${open} caption="Your API keys" />`)}
    ${data && data.keys.length > 0 && data.deleted > 0 && html`<p class="table-foot">
      <a href="#/keys/deleted">Deleted keys (${data.deleted})</a></p>`}
    ${dialog && html`<${KeyDialogs} dialog=${dialog} catalog=${data.catalog} onClose=${close}
      onChanged=${(message) => { if (message) setNotice(message); load(); }} />`}
  </section>`;
}

/** Keys deleted from this account: what they could do, and a way to their usage logs. */
export function DeletedKeysPage() {
  const [rows, setRows] = useState(null);
  const [catalog, setCatalog] = useState([]);
  const [page, setPage] = useState({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState("");
  const fetchPage = useCallback(async (after) => {
    try {
      const data = await gql(DELETED, { after });
      const deleted = data.apiKeys.nodes.filter((k) => k.status === "DELETED");
      setRows((old) => (after ? [...(old ?? []), ...deleted] : deleted));
      setCatalog(data.scopeCatalog);
      setPage(data.apiKeys.pageInfo);
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { fetchPage(null); }, [fetchPage]);
  return html`<section aria-labelledby="deleted-title">
    <p class="crumbs"><a href="#/">API Management</a> ›</p>
    <h1 id="deleted-title">Deleted keys</h1>
    <p class="muted">A deleted key verifies nothing. Its usage logs stay until they are pruned.</p>
    <${Alert}>${error}<//>
    ${rows && rows.length === 0 && html`<p class="empty card">No deleted keys.</p>`}
    ${rows && rows.length > 0 && html`<div class="table-wrap"><table class="keys">
      <caption class="visually-hidden">Deleted keys</caption>
      <thead><tr><th scope="col">Label</th><th scope="col">Key</th><th scope="col">Permissions</th>
        <th scope="col">Created</th><th scope="col">Last used</th></tr></thead>
      <tbody>${rows.map((k) => html`<tr key=${k.id}>
        <th scope="row" class="key-label"><a href=${keyHref(k)} title=${k.label}>${k.label}</a></th>
        <td><${KeyIdentifier} value=${k.key} /></td>
        <td><${Chips} items=${scopeChips(catalog, k)} /></td>
        <td><${Time} value=${k.createdAt} only="date" /></td>
        <td><${Time} value=${k.lastUsedAt} fallback="Never" only="date" /></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${page.hasNextPage && html`<button type="button" onClick=${() => fetchPage(page.endCursor)}>Load more</button>`}
  </section>`;
}
