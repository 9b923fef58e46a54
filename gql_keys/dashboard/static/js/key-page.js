// One key: its facts, a usage chart from ApiKey.usage, and its usage logs with filters;
// after a roll, which requests still came signed with the previous secret.
import { gql, KEY_FIELDS } from "./api.js";
import { UsageChart } from "./chart.js";
import { EditKeyDialog, RollKeyDialog } from "./edit-key.js";
import { cancelPendingChange, QuarantineDialog, ReleaseDialog } from "./key-safety.js";
import { KeyIdentifier, KeyStatus } from "./keys.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { algorithmName, codeName, pendingScopes, quarantineReasonName, scopeTitle, VERIFICATION_CODES } from "./names.js";
import { Alert, Time } from "./ui.js";

const PERIODS = {
  hour: { label: "Last hour", ms: 3600e3, bucket: "MINUTE" },
  day: { label: "Last 24 hours", ms: 24 * 3600e3, bucket: "HOUR" },
  month: { label: "Last 30 days", ms: 30 * 24 * 3600e3, bucket: "DAY" },
};
const PAGE = 25;

const KEY = `query Key($id: ID!, $since: DateTime!, $bucket: UsageBucketSize!) {
  apiKey(id: $id) { ${KEY_FIELDS} previousSecretExpiresAt rolledAt subAccount { id label }
    usage(since: $since, bucket: $bucket) { start allowed denied } }
  scopeCatalog { scope title description area }
}`;
const LOGS = `query Logs($filter: UsageLogFilter!, $first: Int!, $after: String) {
  usageLogs(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id occurredAt allowed code clientIp method path requiredScope
      signedWithPreviousSecret } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const ON_OLD_SECRET = `query OldSecretUse($filter: UsageLogFilter!) {
  usageLogs(filter: $filter, first: 1) { totalCount }
}`;

function Chart({ apiKey, period, since }) {
  const buckets = apiKey.usage;
  const allowed = buckets.reduce((n, b) => n + b.allowed, 0);
  const denied = buckets.reduce((n, b) => n + b.denied, 0);
  const caption = `${PERIODS[period].label}: ${allowed} allowed, ${denied} denied.`;
  return html`<${UsageChart} buckets=${buckets} since=${since} size=${PERIODS[period].bucket}
    caption=${caption} />`;
}

function Filters({ filters, onApply, rolled, material }) {
  const [draft, setDraft] = useState(filters);
  const set = (name) => (e) => setDraft((d) => ({ ...d, [name]: e.currentTarget.value }));
  const submit = (event) => {
    event.preventDefault();
    onApply(draft);
  };
  return html`<form class="filters" onSubmit=${submit} aria-label="Filter usage logs">
    <div class="field"><label for="filter-outcome">Outcome</label>
      <select id="filter-outcome" value=${draft.outcome} onChange=${set("outcome")}>
        <option value="">Any</option><option value="allowed">Allowed</option><option value="denied">Denied</option>
      </select></div>
    <div class="field"><label for="filter-code">Verification code</label>
      <select id="filter-code" value=${draft.code} onChange=${set("code")}>
        <option value="">Any</option>${VERIFICATION_CODES.map((c) => html`<option value=${c} key=${c}>${codeName(c)} (${c})</option>`)}
      </select></div>
    ${rolled && html`<div class="field"><label for="filter-signed">Signed with</label>
      <select id="filter-signed" value=${draft.signedWith} onChange=${set("signedWith")}>
        <option value="">Any ${material}</option><option value="previous">Previous ${material}</option>
        <option value="current">Current ${material}</option>
      </select></div>`}
    <div class="field"><label for="filter-period">Period</label>
      <select id="filter-period" value=${draft.period} onChange=${set("period")}>
        <option value="">All time</option>
        ${Object.entries(PERIODS).map(([k, p]) => html`<option value=${k} key=${k}>${p.label}</option>`)}
      </select></div>
    <div class="field"><label for="filter-ip">Client address</label>
      <input id="filter-ip" value=${draft.clientIp} onInput=${set("clientIp")} placeholder="e.g. 203.0.113.7" /></div>
    <button type="submit">Apply filters</button>
  </form>`;
}

function toFilter(keyId, filters) {
  const filter = { keyId };
  if (filters.signedWith) filter.signedWithPreviousSecret = filters.signedWith === "previous";
  if (filters.outcome) filter.allowed = filters.outcome === "allowed";
  if (filters.code) filter.codes = [filters.code];
  if (filters.period) filter.since = new Date(Date.now() - PERIODS[filters.period].ms).toISOString();
  if (filters.clientIp.trim()) filter.clientIp = filters.clientIp.trim();
  return filter;
}

/** "Allowed", or why not ("Address not allowed"), in the outcome's colour. */
const outcome = (log) => codeName(log.code);

const NO_FILTERS = { outcome: "", code: "", period: "", clientIp: "", signedWith: "" };

function UsageLogs({ apiKey, catalog, refresh, filters, setFilters }) {
  const keyId = apiKey.id;
  const material = apiKey.algorithm === "ED25519" ? "public key" : "secret";
  const [rows, setRows] = useState([]);
  const [page, setPage] = useState({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const fetchPage = useCallback(async (after) => {
    setBusy(true);
    try {
      const data = await gql(LOGS, { filter: toFilter(keyId, filters), first: PAGE, after });
      const nodes = data.usageLogs.edges.map((e) => e.node);
      setRows((old) => (after ? [...old, ...nodes] : nodes));
      setPage(data.usageLogs.pageInfo);
      setError("");
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }, [keyId, filters]);
  const usedFilter = Object.values(filters).some(Boolean);
  useEffect(() => { fetchPage(null); }, [fetchPage, refresh]);

  return html`<section class="card" aria-labelledby="logs-title">
    <h2 id="logs-title">Usage logs</h2>
    <${Filters} key=${JSON.stringify(filters)} filters=${filters} onApply=${setFilters}
      rolled=${Boolean(apiKey.rolledAt)} material=${material} />
    <${Alert}>${error}<//>
    ${rows.length === 0 && !busy ? html`<p class="empty">${usedFilter ? "No requests match." : "No requests yet."}</p>` : html`<div class="table-wrap"><table class="logs">
      <caption class="visually-hidden">Usage logs, newest first</caption>
      <thead><tr><th scope="col">Time</th><th scope="col">Outcome</th><th scope="col">Code</th>
        <th scope="col">Request</th><th scope="col">Permission</th><th scope="col">Address</th>
        ${apiKey.rolledAt && html`<th scope="col">Signed with</th>`}</tr></thead>
      <tbody>${rows.map((r) => html`<tr key=${r.id} class=${r.signedWithPreviousSecret ? "previous-secret" : undefined}>
        <td><${Time} value=${r.occurredAt} only="seconds" /></td>
        <td><span class=${r.allowed ? "status status-active" : "status status-denied"}>${outcome(r)}</span></td>
        <td><code>${r.code}</code></td>
        <td><code class="request" title=${`${r.method} ${r.path}`}>${r.method} ${r.path}</code></td>
        <td>${r.requiredScope ? scopeTitle(catalog, r.requiredScope) : "—"}</td>
        <td><code>${r.clientIp}</code></td>
        ${apiKey.rolledAt && html`<td>${r.signedWithPreviousSecret
          ? html`<span class="badge badge-previous">Previous ${material}</span>`
          : r.allowed && Date.parse(r.occurredAt) >= Date.parse(apiKey.rolledAt) ? html`<span class="muted">New ${material}</span>` : ""}</td>`}
      </tr>`)}</tbody>
    </table></div>`}
    ${page.hasNextPage && html`<button type="button" onClick=${() => fetchPage(page.endCursor)} disabled=${busy}>Load more</button>`}
  </section>`;
}

/** After a roll: how many requests the previous secret signed since, and a way to see them. */
function PreviousSecretUse({ apiKey, material, refresh, onShow }) {
  const [count, setCount] = useState(null);
  useEffect(() => {
    let live = true;
    const filter = { keyId: apiKey.id, signedWithPreviousSecret: true, since: apiKey.rolledAt };
    gql(ON_OLD_SECRET, { filter }).then((d) => live && setCount(d.usageLogs.totalCount), () => {});
    return () => { live = false; };
  }, [apiKey.id, apiKey.rolledAt, refresh]);
  const overlapping = Boolean(apiKey.previousSecretExpiresAt);
  return html`<dt>Rolled</dt>
    <dd><${Time} value=${apiKey.rolledAt} />${overlapping
      ? html`; the previous ${material} still verifies until <${Time} value=${apiKey.previousSecretExpiresAt} />`
      : html`; the previous ${material} no longer verifies`}</dd>
    <dt>On the previous ${material}</dt>
    <dd id="previous-secret-use">${count === null ? "…" : html`${count === 1 ? "1 request" : `${count} requests`} since the roll${
      count > 0 ? html` (<button type="button" class="link" onClick=${onShow}>show them</button>)` : ""}`}</dd>`;
}

/** A change still cooling off: what it adds, when, and a way to drop it now. */
function PendingChange({ apiKey, catalog, onCancel, busy }) {
  const change = apiKey.pendingChange;
  const adds = pendingScopes(apiKey);
  const widened = change.ipAllowlist.filter((ip) => !apiKey.ipAllowlist.includes(ip));
  return html`<dt>Pending change</dt>
    <dd id="pending-change"><p class="pending-text">From <${Time} value=${change.effectiveAt} />:
      ${adds.length > 0 && html` adds ${adds.map((s) => scopeTitle(catalog, s)).join(", ")}`}${
      adds.length > 0 && widened.length > 0 ? ";" : ""}${
      widened.length > 0 && html` allows ${widened.join(", ")}`}. Until then the key verifies as it is now.</p>
      <button type="button" class="small" onClick=${onCancel} disabled=${busy}>Cancel pending change</button></dd>`;
}

export function KeyPage({ params, activityTick }) {
  const id = params[0];
  const [period, setPeriod] = useState("day");
  const [apiKey, setApiKey] = useState(undefined);
  const [since, setSince] = useState(null);
  const [catalog, setCatalog] = useState([]);
  const [dialog, setDialog] = useState(null); // "edit" | "roll" | "quarantine" | "release"
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const [filters, setFilters] = useState(NO_FILTERS);

  const load = useCallback(async () => {
    try {
      const from = new Date(Date.now() - PERIODS[period].ms);
      const data = await gql(KEY, { id, since: from.toISOString(), bucket: PERIODS[period].bucket });
      setApiKey(data.apiKey);
      setCatalog(data.scopeCatalog);
      setSince(from);
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, [id, period]);
  useEffect(() => { load(); }, [load, activityTick]);

  if (apiKey === null) {
    return html`<section><h1>Key not found</h1><p>It was deleted, or it is not yours.</p>
      <p><a href="#/">Back to API Management</a></p></section>`;
  }
  const material = apiKey?.algorithm === "ED25519" ? "public key" : "secret";
  const open = (kind) => { setNotice(""); setDialog(kind); };
  const done = (message) => () => { setDialog(null); setNotice(message); load(); };
  const cancelPending = async () => {
    setBusy(true);
    try {
      await cancelPendingChange(apiKey);
      setNotice("Pending change cancelled: the key stays as it is.");
      setError("");
      load();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const showOldSecretRequests = () => {
    setFilters({ ...NO_FILTERS, signedWith: "previous" });
    document.getElementById("logs-title")?.scrollIntoView({ block: "start" });
  };
  return html`<section aria-labelledby="key-title">
    <p class="crumbs">${apiKey?.subAccount
      ? html`<a href="#/sub-accounts">Sub-accounts</a> › <a href=${`#/sub-accounts/${encodeURIComponent(apiKey.subAccount.id)}`}>${apiKey.subAccount.label}</a> ›`
      : html`<a href="#/">API Management</a> ›`}</p>
    <${Alert}>${error}<//>
    <${Alert} kind="info">${notice}<//>
    ${apiKey && html`
      <div class="section-head">
        <h1 id="key-title">${apiKey.label}</h1>
        ${apiKey.status === "ACTIVE" && html`<div class="actions">
          <button type="button" onClick=${() => open("edit")}>Edit</button>
          <button type="button" onClick=${() => open("roll")}>Roll secret</button>
          ${!apiKey.canary && html`<button type="button" class="danger-quiet" onClick=${() => open("quarantine")}>Quarantine now</button>`}
        </div>`}
        ${apiKey.status === "QUARANTINED" && html`<div class="actions">
          <button type="button" class="primary" onClick=${() => open("roll")}>Roll secret</button>
          <button type="button" onClick=${() => open("release")}>Release</button>
        </div>`}
      </div>
      ${apiKey.status === "QUARANTINED" && html`<p class="warning" id="quarantine-why">
        <strong>Quarantined</strong> <${Time} value=${apiKey.quarantinedAt} />: ${quarantineReasonName(apiKey.quarantineReason)}.
        The key still reads and cancels orders; everything else is refused. Roll its secret (the old one
        stops at once), release it if this was a false alarm, or delete it.</p>`}
      ${apiKey.canary && html`<p class="warning" id="canary-note"><strong>Canary key.</strong> A decoy to plant
        where a thief would look: every use is denied, answered like an unknown key, and reported to you.</p>`}
      <dl class="facts card">
        <dt>Key</dt><dd><${KeyIdentifier} value=${apiKey.key} /></dd>
        <dt>Status</dt><dd><${KeyStatus} apiKey=${apiKey} />${apiKey.status === "QUARANTINED"
          ? html` <span class="muted">(${quarantineReasonName(apiKey.quarantineReason)})</span>` : ""}</dd>
        ${apiKey.pendingChange && html`<${PendingChange} apiKey=${apiKey} catalog=${catalog}
          onCancel=${cancelPending} busy=${busy} />`}
        <dt>Permissions</dt><dd><ul class="tags">${apiKey.scopes.map((s) => html`<li key=${s}>${scopeTitle(catalog, s)}</li>`)}</ul></dd>
        <dt>IP allowlist</dt><dd>${apiKey.ipAllowlist.length
          ? html`<ul class="plain">${apiKey.ipAllowlist.map((ip) => html`<li key=${ip}><code>${ip}</code></li>`)}</ul>`
          : "Any address"}</dd>
        <dt>Rate limit</dt><dd>${apiKey.rateLimit.requests} requests per ${apiKey.rateLimit.perSeconds} s</dd>
        <dt>Signature</dt><dd>${algorithmName(apiKey.algorithm)}</dd>
        <dt>Created</dt><dd><${Time} value=${apiKey.createdAt} /></dd>
        <dt>Expires</dt><dd><${Time} value=${apiKey.expiresAt} fallback="Never" /></dd>
        ${apiKey.rolledAt && html`<${PreviousSecretUse} apiKey=${apiKey} material=${material}
          refresh=${activityTick} onShow=${showOldSecretRequests} />`}
        <dt>Last used</dt><dd><${Time} value=${apiKey.lastUsedAt} fallback="Never" seconds />${apiKey.lastUsedIp ? ` from ${apiKey.lastUsedIp}` : ""}</dd>
      </dl>
      <section class="card" aria-labelledby="usage-title">
        <div class="section-head">
          <h2 id="usage-title">Usage</h2>
          <div class="field inline"><label for="usage-period">Show</label>
            <select id="usage-period" value=${period} onChange=${(e) => setPeriod(e.currentTarget.value)}>
              ${Object.entries(PERIODS).map(([k, p]) => html`<option value=${k} key=${k}>${p.label}</option>`)}
            </select></div>
        </div>
        <${Chart} apiKey=${apiKey} period=${period} since=${since} />
      </section>
      <${UsageLogs} apiKey=${apiKey} catalog=${catalog} refresh=${activityTick}
        filters=${filters} setFilters=${setFilters} />
      ${dialog === "edit" && html`<${EditKeyDialog} apiKey=${apiKey} catalog=${catalog}
        onClose=${() => setDialog(null)}
        onSaved=${(_, message) => { setDialog(null); setNotice(message); load(); }} />`}
      ${dialog === "roll" && html`<${RollKeyDialog} apiKey=${apiKey}
        onClose=${() => { setDialog(null); load(); }} onRolled=${() => setNotice("Secret rolled.")} />`}
      ${dialog === "quarantine" && html`<${QuarantineDialog} apiKey=${apiKey} onClose=${() => setDialog(null)}
        onDone=${done("Quarantined: only reads and order cancellations verify.")} />`}
      ${dialog === "release" && html`<${ReleaseDialog} apiKey=${apiKey} onClose=${() => setDialog(null)}
        onDone=${done("Released from quarantine: the key is active again.")} />`}`}
  </section>`;
}
