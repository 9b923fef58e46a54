// Notifications: webhook endpoints (Add endpoint asks for the URL, the events and a code,
// then shows the signing secret once), a test message, delete, and each endpoint's recent
// deliveries with their status.
import { errorsByField, gql, otherErrors } from "./api.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { Alert, CopyButton, Dialog, Field, FieldError, Time } from "./ui.js";

const ENDPOINTS = `query WebhookEndpoints { webhookEndpoints { id url events description disabled createdAt
  deliveries(first: 10) { nodes { id type status attempts lastStatusCode nextAttemptAt createdAt } } } }`;
const CREATE = `mutation CreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { challenge { id } userErrors { field message code } }
}`;
const CONFIRM = `mutation VerifyWebhookEndpoint($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { webhookEndpoint { id url } webhookSecret userErrors { field message code } }
}`;
const TEST = `mutation SendTestWebhook($input: SendTestWebhookInput!) {
  sendTestWebhook(input: $input) { delivery { id } userErrors { field message code } }
}`;
const DELETE = `mutation DeleteWebhookEndpoint($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedWebhookEndpointId userErrors { field message code } }
}`;

export const EVENTS = [
  ["KEY_CREATED", "Key created"],
  ["KEY_UPDATED", "Key changed"],
  ["KEY_ROLLED", "Secret rolled"],
  ["KEY_DELETED", "Key deleted"],
  ["KEY_EXPIRING", "Key about to expire"],
  ["KEY_QUARANTINED", "Key quarantined"],
  ["CANARY_TRIPPED", "Canary key used"],
  ["KEY_CHANGE_PENDING", "Change cooling off"],
  ["NEW_SIGN_IN", "Sign-in from a new address"],
  ["PASSWORD_CHANGED", "Password changed"],
  ["TWO_FACTOR_DISABLED", "Two-factor turned off"],
];
const STATUS = { PENDING: "Pending", SUCCEEDED: "Delivered", FAILED: "Failed" };

function AddEndpointDialog({ onClose, onCreated }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState(new Set(EVENTS.map(([name]) => name)));
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [secret, setSecret] = useState(null);

  const toggle = (name, on) => setEvents((now) => {
    const next = new Set(now);
    if (on) next.add(name);
    else next.delete(name);
    return next;
  });

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const input = { url: url.trim(), events: [...events], description: description.trim() || null };
      const asked = (await gql(CREATE, { input })).createWebhookEndpoint;
      if (asked.userErrors.length > 0) return setErrors(errorsByField(asked.userErrors));
      const done = (await gql(CONFIRM, { input: { challengeId: asked.challenge.id, code: code.trim() } })).verifyTwoFactor;
      if (done.userErrors.length > 0) {
        const byField = errorsByField(done.userErrors);
        return setErrors({ code: Object.values(byField).join(" ") });
      }
      setSecret(done.webhookSecret);
      onCreated();
    } catch (e) {
      setErrors({ "": e.message });
    } finally {
      setBusy(false);
    }
  }

  const head = html`<div class="dialog-head">
    <h2 id="add-endpoint-title">Add endpoint</h2>
    <button type="button" class="quiet" onClick=${onClose}>${secret ? "Close" : "Cancel"}</button>
  </div>`;
  if (secret) {
    return html`<${Dialog} labelledBy="add-endpoint-title" onClose=${onClose}>${head}
      <p class="warning" role="alert"><strong>This signing secret is shown only once.</strong> Give it to
        the receiving end now: it verifies every message with it, and it cannot be shown again.</p>
      <p class="secret-line"><label for="webhook-secret">Signing secret</label>
        <output id="webhook-secret" class="secret" aria-live="off">${secret}</output></p>
      <div class="actions"><${CopyButton} text=${secret} selectId="webhook-secret" what="Secret" /></div>
      <div class="actions end"><button type="button" class="primary" onClick=${onClose}>Done</button></div>
    <//>`;
  }
  return html`<${Dialog} labelledBy="add-endpoint-title" onClose=${onClose} className="wide">${head}
    <form onSubmit=${submit} novalidate>
      <${Field} id="endpoint-url" label="URL" value=${url} onValue=${setUrl} error=${errors.url}
        hint="Where each message is POSTed (https to a public address in production)." autocomplete="off" />
      <fieldset class="scopes" aria-describedby=${errors.events ? "events-error" : undefined}>
        <legend>Events</legend>
        ${EVENTS.map(([name, title]) => html`<div class="check" key=${name}>
          <input type="checkbox" id=${`event-${name}`} checked=${events.has(name)}
            onChange=${(e) => toggle(name, e.currentTarget.checked)} />
          <label for=${`event-${name}`}>${title}</label>
        </div>`)}
        <${FieldError} id="events" error=${errors.events} />
      </fieldset>
      <${Field} id="endpoint-description" label="Description" value=${description} onValue=${setDescription}
        error=${errors.description} />
      <${Field} id="endpoint-code" label="Google Authenticator code" value=${code} onValue=${setCode}
        error=${errors.code ?? errors.challengeId} inputmode="numeric" autocomplete="one-time-code" />
      <${Alert}>${otherErrors(errors, ["url", "events", "description", "code", "challengeId"])}<//>
      <div class="actions end"><button type="submit" class="primary" disabled=${busy}>Create endpoint</button></div>
    </form>
  <//>`;
}

function Deliveries({ endpoint }) {
  const rows = endpoint.deliveries.nodes;
  if (rows.length === 0) return html`<p class="hint">Nothing sent yet.</p>`;
  return html`<div class="table-wrap"><table>
    <caption class="visually-hidden">Recent deliveries to ${endpoint.url}</caption>
    <thead><tr><th scope="col">Event</th><th scope="col">Created</th><th scope="col">Status</th>
      <th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next attempt</th></tr></thead>
    <tbody>${rows.map((d) => html`<tr key=${d.id}>
      <td><code>${d.type}</code></td><td><${Time} value=${d.createdAt} seconds /></td>
      <td>${STATUS[d.status] ?? d.status}</td><td>${d.attempts}</td>
      <td>${d.lastStatusCode ?? "—"}</td><td><${Time} value=${d.nextAttemptAt} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Endpoint({ endpoint, onChanged, onError }) {
  const act = async (query, name) => {
    try {
      const result = (await gql(query, { input: { id: endpoint.id } }))[name];
      if (result.userErrors.length > 0) onError(result.userErrors.map((e) => e.message).join(" "));
    } catch (e) {
      onError(e.message);
    }
    onChanged();
  };
  const titles = new Map(EVENTS);
  return html`<section class="card" aria-label=${`Endpoint ${endpoint.url}`}>
    <div class="section-head">
      <h2><code>${endpoint.url}</code></h2>
      <div class="actions">
        <button type="button" onClick=${() => act(TEST, "sendTestWebhook")}>Send test</button>
        <button type="button" class="danger" onClick=${() => act(DELETE, "deleteWebhookEndpoint")}>Delete</button>
      </div>
    </div>
    ${endpoint.description && html`<p>${endpoint.description}</p>`}
    <p>${endpoint.disabled ? html`<strong>Disabled</strong> after its last 20 deliveries failed.` : "Active"}${" · "}${endpoint.events.map((e) => titles.get(e) ?? e).join(", ")}</p>
    <h3>Recent deliveries</h3>
    <${Deliveries} endpoint=${endpoint} />
  </section>`;
}

export function NotificationsPage({ user }) {
  const [endpoints, setEndpoints] = useState(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const load = useCallback(() => gql(ENDPOINTS).then((d) => setEndpoints(d.webhookEndpoints), (e) => setError(e.message)), []);
  useEffect(() => {
    load();
    const timer = setInterval(load, 3000); // deliveries change as the outbox works
    return () => clearInterval(timer);
  }, [load]);
  return html`<section aria-labelledby="notifications-title">
    <div class="section-head">
      <h1 id="notifications-title">Notifications</h1>
      <button type="button" class="primary" disabled=${!user.twoFactorEnabled}
        onClick=${() => setAdding(true)}>Add endpoint</button>
    </div>
    <p class="hint">Signed webhooks (Standard Webhooks) for what happens to your keys and account;
      the most important also go to ${user.email} by e-mail.</p>
    <${Alert}>${error}<//>
    ${endpoints && endpoints.length === 0 && html`<p>No webhook endpoints yet.</p>`}
    ${endpoints && endpoints.map((e) => html`<${Endpoint} key=${e.id} endpoint=${e} onChanged=${load} onError=${setError} />`)}
    ${adding && html`<${AddEndpointDialog} onCreated=${load} onClose=${() => setAdding(false)} />`}
  </section>`;
}
