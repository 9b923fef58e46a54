// Security: live sessions (revoke), the account's security events, change password,
// regenerate recovery codes, turn two-factor off (not while live keys exist).
import { Agent, useAgentParser } from "./agents.js";
import { errorsByField, gql, otherErrors, USER_FIELDS } from "./api.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { securityEventName } from "./names.js";
import { RecoveryCodes } from "./twofactor.js";
import { Alert, Field, SignOutOthers, Time } from "./ui.js";

const SESSIONS = "query Sessions { sessions { id createdAt lastSeenAt ip userAgent current } }";
const EVENTS = `query SecurityEvents($after: String) {
  securityEvents(first: 20, after: $after) {
    nodes { id kind occurredAt ip userAgent keyLabel apiKey { id label } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const REVOKE = `mutation RevokeSession($input: RevokeSessionInput!) {
  revokeSession(input: $input) { revokedSessionId userErrors { field message code } }
}`;
const CHANGE_PASSWORD = `mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { id } userErrors { field message code } }
}`;
const REGENERATE = `mutation RegenerateRecoveryCodes($input: RegenerateRecoveryCodesInput!) {
  regenerateRecoveryCodes(input: $input) { recoveryCodes userErrors { field message code } }
}`;
// Live keys (active, not expired) are what keeps two-factor on.
const LIVE_KEYS = "query LiveKeys { apiKeys(first: 100) { nodes { status } } }";
const DISABLE = `mutation DisableTwoFactor($input: DisableTwoFactorInput!) {
  disableTwoFactor(input: $input) { user { ${USER_FIELDS} } userErrors { field message code } }
}`;

/** Run a mutation-backed form: busy flag, errors by field, the result when it worked. */
function useAction() {
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const run = async (action) => {
    setBusy(true);
    setErrors({});
    try {
      const payload = await action();
      if (payload.userErrors.length > 0) {
        setErrors(errorsByField(payload.userErrors));
        return null;
      }
      return payload;
    } catch (e) {
      setErrors({ "": e.message });
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { errors, busy, run };
}

function Sessions() {
  const parser = useAgentParser();
  const [sessions, setSessions] = useState(null);
  const [error, setError] = useState("");
  const load = useCallback(() => gql(SESSIONS).then((d) => setSessions(d.sessions), (e) => setError(e.message)), []);
  useEffect(() => { load(); }, [load]);
  const revoke = async (id) => {
    try {
      const result = (await gql(REVOKE, { input: { id } })).revokeSession;
      if (result.userErrors.length > 0) setError(result.userErrors.map((e) => e.message).join(" "));
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<section class="card" aria-labelledby="sessions-title">
    <h2 id="sessions-title">Sessions</h2>
    <${Alert}>${error}<//>
    ${sessions && html`<div class="table-wrap"><table>
      <caption class="visually-hidden">Where you are signed in</caption>
      <thead><tr><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col">Address</th>
        <th scope="col">Browser</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${sessions.map((s) => html`<tr key=${s.id}>
        <td><${Time} value=${s.createdAt} /></td><td><${Time} value=${s.lastSeenAt} /></td>
        <td><code>${s.ip ?? "—"}</code></td><td><${Agent} agent=${s.userAgent} parser=${parser} /></td>
        <td class="session-action">${s.current ? html`<span class="badge badge-current">This browser</span>`
          : html`<button type="button" class="small" onClick=${() => revoke(s.id)}>Revoke</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

/** "Key created: desk bot" with the label the key had then (its label now if not recorded). */
function eventText(event) {
  const label = event.keyLabel ?? event.apiKey?.label;
  return label ? `${securityEventName(event.kind)}: ${label}` : securityEventName(event.kind);
}

function SecurityEvents() {
  const parser = useAgentParser();
  const [events, setEvents] = useState([]);
  const [page, setPage] = useState({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState("");
  const fetchPage = useCallback(async (after) => {
    try {
      const data = (await gql(EVENTS, { after })).securityEvents;
      setEvents((old) => (after ? [...old, ...data.nodes] : data.nodes));
      setPage(data.pageInfo);
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { fetchPage(null); }, [fetchPage]);
  return html`<section class="card" aria-labelledby="events-title">
    <h2 id="events-title">Security events</h2>
    <${Alert}>${error}<//>
    <div class="table-wrap"><table>
      <caption class="visually-hidden">Security events, newest first</caption>
      <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Address</th><th scope="col">Browser</th></tr></thead>
      <tbody>${events.map((e) => html`<tr key=${e.id}>
        <td class="nowrap"><${Time} value=${e.occurredAt} only="seconds" /></td>
        <td>${e.apiKey ? html`<a href=${`#/keys/${encodeURIComponent(e.apiKey.id)}`}>${eventText(e)}</a>` : eventText(e)}</td>
        <td><code>${e.ip ?? "—"}</code></td><td><${Agent} agent=${e.userAgent} parser=${parser} /></td>
      </tr>`)}</tbody>
    </table></div>
    ${page.hasNextPage && html`<button type="button" onClick=${() => fetchPage(page.endCursor)}>Load more</button>`}
  </section>`;
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState("");
  const { errors, busy, run } = useAction();
  const submit = async (event) => {
    event.preventDefault();
    setDone("");
    const ok = await run(async () => (await gql(CHANGE_PASSWORD, { input: { currentPassword: current, newPassword: next } })).changePassword);
    if (ok) {
      setCurrent("");
      setNext("");
      setDone("Password changed. Every other session was signed out.");
    }
  };
  return html`<section class="card" aria-labelledby="password-title">
    <h2 id="password-title">Change password</h2>
    <form onSubmit=${submit}>
      <${Field} id="current-password" label="Current password" type="password" autocomplete="current-password"
        required value=${current} onValue=${setCurrent} error=${errors.currentPassword} />
      <${Field} id="new-password" label="New password" type="password" autocomplete="new-password"
        required value=${next} onValue=${setNext} error=${errors.newPassword}
        hint="At least 12 characters. Other sessions are signed out." />
      <${Alert}>${otherErrors(errors, ["currentPassword", "newPassword"])}<//>
      <${Alert} kind="info">${done}<//>
      <button type="submit" disabled=${busy}>Change password</button>
    </form>
  </section>`;
}

/** How many live keys the account has (null while asking). */
function useLiveKeyCount() {
  const [count, setCount] = useState(null);
  useEffect(() => {
    let live = true;
    gql(LIVE_KEYS).then(
      (d) => live && setCount(d.apiKeys.nodes.filter((k) => k.status === "ACTIVE").length),
      () => live && setCount(0), // unknown: the server still refuses with KEYS_EXIST
    );
    return () => { live = false; };
  }, []);
  return count;
}

function TwoFactorSettings({ onUser }) {
  const liveKeys = useLiveKeyCount();
  const blocked = liveKeys === null || liveKeys > 0;
  const [regenCode, setRegenCode] = useState("");
  const [regenSignOut, setRegenSignOut] = useState(true);
  const [codes, setCodes] = useState(null);
  const [password, setPassword] = useState("");
  const [disableCode, setDisableCode] = useState("");
  const [disableSignOut, setDisableSignOut] = useState(true);
  const regen = useAction();
  const disable = useAction();
  const regenerate = async (event) => {
    event.preventDefault();
    const input = { code: regenCode, signOutOtherSessions: regenSignOut };
    const ok = await regen.run(async () => (await gql(REGENERATE, { input })).regenerateRecoveryCodes);
    setRegenCode("");
    if (ok) setCodes(ok.recoveryCodes);
  };
  const turnOff = async (event) => {
    event.preventDefault();
    const input = { password, code: disableCode, signOutOtherSessions: disableSignOut };
    const ok = await disable.run(async () => (await gql(DISABLE, { input })).disableTwoFactor);
    setDisableCode("");
    if (ok) {
      setPassword("");
      onUser(ok.user);
    }
  };
  if (codes) return html`<${RecoveryCodes} codes=${codes} onDone=${() => setCodes(null)} />`;
  return html`<section class="card" aria-labelledby="recovery-regen-title">
      <h2 id="recovery-regen-title">Recovery codes</h2>
      <p>New codes replace the old ones at once.</p>
      <form onSubmit=${regenerate} class="inline-form">
        <${Field} id="regen-code" label="Authentication code" autocomplete="one-time-code" inputmode="numeric"
          required value=${regenCode} onValue=${setRegenCode} error=${regen.errors.code}
          action=${html`<button type="submit" disabled=${regen.busy}>Regenerate recovery codes</button>`} />
        <${SignOutOthers} id="regen-sign-out" checked=${regenSignOut} onChange=${setRegenSignOut} />
      </form>
      <${Alert}>${otherErrors(regen.errors, ["code"])}<//>
    </section>
    <section class="card" aria-labelledby="disable-title">
      <h2 id="disable-title">Turn off two-factor authentication</h2>
      <p>Keys are created and changed only with a code, so two-factor stays on while the account
        has live keys.</p>
      <form onSubmit=${turnOff}>
        <fieldset class="plain" disabled=${blocked}>
        <div class="row">
          <${Field} id="disable-password" label="Password" type="password" autocomplete="current-password"
            required value=${password} onValue=${setPassword} error=${disable.errors.password} />
          <${Field} id="disable-code" label="Authentication code" autocomplete="one-time-code" inputmode="numeric"
            required value=${disableCode} onValue=${setDisableCode} error=${disable.errors.code} />
        </div>
        <${SignOutOthers} id="disable-sign-out" checked=${disableSignOut} onChange=${setDisableSignOut} />
        <${Alert}>${otherErrors(disable.errors, ["password", "code"])}<//>
        <div class="actions">
          <button type="submit" class="danger" disabled=${disable.busy || blocked}
            aria-describedby=${blocked ? "disable-reason" : undefined}>Turn off two-factor</button>
          ${liveKeys > 0 && html`<p class="hint" id="disable-reason">Not possible while ${liveKeys === 1 ? "1 live key exists" : `${liveKeys} live keys exist`}:
            delete ${liveKeys === 1 ? "it" : "them"} first on <a href="#/">API Management</a>.</p>`}
        </div>
        </fieldset>
      </form>
    </section>`;
}

export function SecurityPage({ user, onUser }) {
  return html`<section aria-labelledby="security-title">
    <h1 id="security-title">Security</h1>
    <${Sessions} />
    <${ChangePassword} />
    ${user.twoFactorEnabled && html`<${TwoFactorSettings} onUser=${onUser} />`}
    <${SecurityEvents} />
  </section>`;
}
