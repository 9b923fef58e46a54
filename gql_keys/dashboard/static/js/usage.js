// Usage across the account: every request on the master's keys and its sub-accounts' keys,
// newest first, filtered by sub-account, outcome and period. `#/usage/sub-accounts/<id>`
// opens it already filtered to one sub-account (its page links here).
import { gql } from "./api.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { codeName } from "./names.js";
import { Alert, Time } from "./ui.js";

const PERIODS = {
  hour: { label: "Last hour", ms: 3600e3 },
  day: { label: "Last 24 hours", ms: 24 * 3600e3 },
  month: { label: "Last 30 days", ms: 30 * 24 * 3600e3 },
};
const PAGE = 25;

const SUBS = "query UsageSubAccounts { subAccounts(first: 100) { nodes { id label } } }";
const LOGS = `query AccountUsage($filter: UsageLogFilter!, $first: Int!, $after: String) {
  usageLogs(filter: $filter, first: $first, after: $after) {
    edges { node { id key occurredAt allowed code clientIp method path
      apiKey { id label subAccount { id label } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The hash route of the usage view, filtered to `subAccountId` when given. */
export const usageHref = (subAccountId = "") => (subAccountId
  ? `#/usage/sub-accounts/${encodeURIComponent(subAccountId)}` : "#/usage");

function toFilter(filters) {
  const filter = {};
  if (filters.subAccountId) filter.subAccountId = filters.subAccountId;
  if (filters.outcome) filter.allowed = filters.outcome === "allowed";
  if (filters.period) filter.since = new Date(Date.now() - PERIODS[filters.period].ms).toISOString();
  return filter;
}

function Filters({ filters, subs, onApply }) {
  const [draft, setDraft] = useState(filters);
  const set = (name) => (e) => setDraft((d) => ({ ...d, [name]: e.currentTarget.value }));
  const submit = (event) => {
    event.preventDefault();
    onApply(draft);
  };
  return html`<form class="filters" onSubmit=${submit} aria-label="Filter usage">
    <div class="field"><label for="usage-sub">Sub-account</label>
      <select id="usage-sub" value=${draft.subAccountId} onChange=${set("subAccountId")}>
        <option value="">All keys</option>
        ${subs.map((s) => html`<option value=${s.id} key=${s.id}>${s.label}</option>`)}
      </select></div>
    <div class="field"><label for="usage-outcome">Outcome</label>
      <select id="usage-outcome" value=${draft.outcome} onChange=${set("outcome")}>
        <option value="">Any</option><option value="allowed">Allowed</option><option value="denied">Denied</option>
      </select></div>
    <div class="field"><label for="usage-when">Period</label>
      <select id="usage-when" value=${draft.period} onChange=${set("period")}>
        <option value="">All time</option>
        ${Object.entries(PERIODS).map(([k, p]) => html`<option value=${k} key=${k}>${p.label}</option>`)}
      </select></div>
    <button type="submit">Apply filters</button>
  </form>`;
}

/** The key that signed, linked to its page; the KEY header as sent when it names no key. */
function KeyCell({ log }) {
  if (!log.apiKey) return html`<code>${log.key}</code>`;
  return html`<a href=${`#/keys/${encodeURIComponent(log.apiKey.id)}`}>${log.apiKey.label}</a>`;
}

function AccountCell({ log }) {
  const sub = log.apiKey?.subAccount;
  if (sub) return html`<a href=${`#/sub-accounts/${encodeURIComponent(sub.id)}`}>${sub.label}</a>`;
  return log.apiKey ? "Your account" : "—";
}

// The other filters, carried across the navigation that a new sub-account choice makes.
let carried = { outcome: "", period: "" };

export function UsagePage({ params, activityTick }) {
  const [filters, setFilters] = useState(() => {
    const initial = { ...carried, subAccountId: params[0] ?? "" };
    carried = { outcome: "", period: "" };
    return initial;
  });
  const [subs, setSubs] = useState([]);
  const [rows, setRows] = useState([]);
  const [page, setPage] = useState({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(true);

  useEffect(() => {
    gql(SUBS).then((d) => setSubs(d.subAccounts.nodes), (e) => setError(e.message));
  }, []);
  const fetchPage = useCallback(async (after) => {
    setBusy(true);
    try {
      const data = await gql(LOGS, { filter: toFilter(filters), first: PAGE, after });
      const nodes = data.usageLogs.edges.map((e) => e.node);
      setRows((old) => (after ? [...old, ...nodes] : nodes));
      setPage(data.usageLogs.pageInfo);
      setError("");
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }, [filters]);
  useEffect(() => { fetchPage(null); }, [fetchPage, activityTick]);

  const apply = (next) => {
    if (next.subAccountId === filters.subAccountId) return setFilters(next);
    // The address names the chosen sub-account: the view can be bookmarked, shared, and
    // left with Back.
    carried = { outcome: next.outcome, period: next.period };
    location.hash = usageHref(next.subAccountId);
    return undefined;
  };
  const chosen = subs.find((s) => s.id === filters.subAccountId);
  const unknown = filters.subAccountId && subs.length > 0 && !chosen;
  const usedFilter = Object.values(filters).some(Boolean);
  return html`<section aria-labelledby="usage-view-title">
    <h1 id="usage-view-title">${chosen ? `Usage of ${chosen.label}` : "Usage"}</h1>
    <p class="muted">Every request signed with your keys and your sub-accounts' keys, newest first.</p>
    <section class="card" aria-label="Usage logs">
      <${Filters} key=${JSON.stringify(filters)} filters=${filters} subs=${subs} onApply=${apply} />
      <${Alert}>${unknown ? "That sub-account was deleted, or it is not yours." : error}<//>
      ${rows.length === 0 && !busy ? html`<p class="empty">${usedFilter ? "No requests match." : "No requests yet."}</p>` : html`<div class="table-wrap"><table class="logs">
        <caption class="visually-hidden">${chosen ? `Requests on the keys of ${chosen.label}, newest first` : "Requests on all your keys, newest first"}</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Key</th><th scope="col">Account</th>
          <th scope="col">Outcome</th><th scope="col">Request</th><th scope="col">Address</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr key=${r.id}>
          <td><${Time} value=${r.occurredAt} only="seconds" /></td>
          <td><${KeyCell} log=${r} /></td>
          <td><${AccountCell} log=${r} /></td>
          <td><span class=${r.allowed ? "status status-active" : "status status-denied"}>${codeName(r.code)}</span></td>
          <td><code class="request" title=${`${r.method} ${r.path}`}>${r.method} ${r.path}</code></td>
          <td><code>${r.clientIp}</code></td>
        </tr>`)}</tbody>
      </table></div>`}
      ${page.hasNextPage && html`<button type="button" onClick=${() => fetchPage(page.endCursor)} disabled=${busy}>Load more</button>`}
    </section>
  </section>`;
}
