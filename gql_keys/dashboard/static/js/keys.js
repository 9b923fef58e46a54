// API Management: the keys table with its marks, Create New Key, and Delete with confirmation.
import { errorsByField, gql, KEY_FIELDS } from "./api.js";
import { CreateKeyDialog } from "./create-key.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { Alert, DAY_MS, Dialog, Time } from "./ui.js";

const KEYS = `query Keys { apiKeys(first: 100) { nodes { ${KEY_FIELDS} } totalCount }
  scopeCatalog { scope title description area } }`;
const DELETE = `mutation DeleteApiKey($input: DeleteApiKeyInput!) {
  deleteApiKey(input: $input) { deletedApiKeyId userErrors { field message code } }
}`;
export const UNUSED_DAYS = 30;
export const EXPIRING_DAYS = 7;

/** The marks a key earns: unused for 30 days (never used counts from creation), expiring soon. */
export function keyMarks(apiKey, now = Date.now()) {
  const marks = [];
  const lastActive = new Date(apiKey.lastUsedAt ?? apiKey.createdAt).getTime();
  if (apiKey.status === "ACTIVE" && now - lastActive >= UNUSED_DAYS * DAY_MS) {
    marks.push({ kind: "unused", text: apiKey.lastUsedAt ? `Unused for ${UNUSED_DAYS}+ days` : `Never used in ${UNUSED_DAYS}+ days` });
  }
  if (apiKey.status === "ACTIVE" && apiKey.expiresAt) {
    const left = new Date(apiKey.expiresAt).getTime() - now;
    if (left <= EXPIRING_DAYS * DAY_MS) {
      const days = Math.max(0, Math.ceil(left / DAY_MS));
      marks.push({ kind: "expiring", text: days <= 1 ? "Expires within a day" : `Expires in ${days} days` });
    }
  }
  return marks;
}

export const scopeTitle = (catalog, scope) => catalog.find((s) => s.scope === scope)?.title ?? scope;

function KeyRow({ apiKey, catalog, onDelete }) {
  const marks = keyMarks(apiKey);
  return html`<tr>
    <th scope="row"><a href=${`#/keys/${encodeURIComponent(apiKey.id)}`}>${apiKey.label}</a></th>
    <td><code class="key-id">${apiKey.key}</code></td>
    <td><ul class="tags">${apiKey.scopes.map((s) => html`<li key=${s}>${scopeTitle(catalog, s)}</li>`)}</ul></td>
    <td>${apiKey.ipAllowlist.length ? html`<ul class="plain">${apiKey.ipAllowlist.map((ip) => html`<li key=${ip}><code>${ip}</code></li>`)}</ul>` : html`<span class="muted">Any address</span>`}</td>
    <td><${Time} value=${apiKey.createdAt} only="date" /></td>
    <td><${Time} value=${apiKey.expiresAt} fallback="Never" only="date" /></td>
    <td><${Time} value=${apiKey.lastUsedAt} fallback="Never" only="date" /></td>
    <td>
      <span class=${`status status-${apiKey.status.toLowerCase()}`}>${apiKey.status === "ACTIVE" ? "Active" : "Expired"}</span>
      ${marks.map((m) => html`<span class=${`badge badge-${m.kind}`} key=${m.kind}>${m.text}</span>`)}
    </td>
    <td class="row-actions"><button type="button" class="danger small" onClick=${() => onDelete(apiKey)}>Delete</button></td>
  </tr>`;
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

export function KeysPage({ user, activityTick }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState(null);
  const [notice, setNotice] = useState("");
  const [onlyUnused, setOnlyUnused] = useState(false);

  const load = useCallback(async () => {
    try {
      const result = await gql(KEYS);
      setData({ keys: result.apiKeys.nodes, catalog: result.scopeCatalog });
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load, activityTick]);

  return html`<section aria-labelledby="keys-title">
    <div class="section-head">
      <h1 id="keys-title">API Management</h1>
      <button type="button" class="primary" disabled=${!user.twoFactorEnabled || !data}
        aria-describedby=${user.twoFactorEnabled ? undefined : "needs-2fa"}
        onClick=${() => { setNotice(""); setCreating(true); }}>Create New Key</button>
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
      ? html`<p class="empty">No keys yet. Create one for each partner or program that calls the API.</p>`
      : html`<div class="table-wrap"><table class="keys">
          <caption class="visually-hidden">Your API keys</caption>
          <thead><tr>
            <th scope="col">Label</th><th scope="col">Key</th><th scope="col">Scopes</th>
            <th scope="col">IP allowlist</th><th scope="col">Created</th><th scope="col">Expires</th>
            <th scope="col">Last used</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Actions</span></th>
          </tr></thead>
          <tbody>${data.keys.filter((k) => !onlyUnused || keyMarks(k).some((m) => m.kind === "unused")).map((k) => html`<${KeyRow} key=${k.id} apiKey=${k} catalog=${data.catalog} onDelete=${setDeleting} />`)}</tbody>
        </table></div>`)}
    ${creating && html`<${CreateKeyDialog} catalog=${data.catalog}
      onCreated=${load} onClose=${() => setCreating(false)} />`}
    ${deleting && html`<${DeleteDialog} apiKey=${deleting} onClose=${() => setDeleting(null)}
      onDeleted=${() => { setNotice(`Deleted “${deleting.label}”.`); setDeleting(null); load(); }} />`}
  </section>`;
}
