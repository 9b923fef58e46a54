// Sub-accounts: the master's desks, strategies or clients. Create one by its label; lock it
// at once (its keys are denied), unlock it with a code (UNLOCK_SUB_ACCOUNT), delete it (its
// keys die); and a sub-account's own page with its keys, created for it, and a link to
// the usage view filtered to it.
import { errorsByField, gql, KEY_FIELDS, openAndConfirm, otherErrors } from "./api.js";
import { KeyDialogs, KeysTable } from "./keys.js";
import { html, useCallback, useEffect, useState } from "./lib.js";
import { Alert, Dialog, Field, Time } from "./ui.js";
import { usageHref } from "./usage.js";

const SUB_FIELDS = "id label createdAt locked";
const LIST = `query SubAccounts { subAccounts(first: 100) {
  nodes { ${SUB_FIELDS} apiKeys(first: 1) { totalCount } } totalCount } }`;
const ONE = `query SubAccount($id: ID!) {
  node(id: $id) { ... on SubAccount { ${SUB_FIELDS} deletedAt apiKeys(first: 100) { nodes { ${KEY_FIELDS} } } } }
  scopeCatalog { scope title description area } }`;
const CREATE = `mutation CreateSubAccount($input: CreateSubAccountInput!) {
  createSubAccount(input: $input) { subAccount { ${SUB_FIELDS} } userErrors { field message code } } }`;
const LOCK = `mutation LockSubAccount($input: LockSubAccountInput!) {
  lockSubAccount(input: $input) { subAccount { ${SUB_FIELDS} } userErrors { field message code } } }`;
const UNLOCK = `mutation UnlockSubAccount($input: UnlockSubAccountInput!) {
  unlockSubAccount(input: $input) { challenge { id expiresAt } userErrors { field message code } } }`;
const CONFIRM = `mutation VerifyTwoFactor($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { subAccount { ${SUB_FIELDS} } userErrors { field message code } } }`;
const DELETE = `mutation DeleteSubAccount($input: DeleteSubAccountInput!) {
  deleteSubAccount(input: $input) { deletedSubAccountId userErrors { field message code } } }`;

const messages = (userErrors) => Object.values(errorsByField(userErrors)).join(" ");
const subHref = (sub) => `#/sub-accounts/${encodeURIComponent(sub.id)}`;

const State = ({ sub }) => (sub.locked
  ? html`<span class="status status-locked">Locked</span>`
  : html`<span class="status status-active">Active</span>`);

/** Lock at once; resolves to the sub-account, or throws with the reason. */
async function lock(sub) {
  const result = (await gql(LOCK, { input: { id: sub.id } })).lockSubAccount;
  if (result.userErrors.length > 0) throw new Error(messages(result.userErrors));
  return result.subAccount;
}

function UnlockDialog({ sub, onClose, onDone }) {
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const { done, errors: refused, spent } = await openAndConfirm({
        open: UNLOCK, field: "unlockSubAccount", input: { id: sub.id }, confirm: CONFIRM, code,
      });
      if (spent) setCode("");
      if (refused) return setErrors(refused);
      onDone(done.subAccount);
    } catch (e) {
      setErrors({ "": e.message });
    } finally {
      setBusy(false);
    }
  }
  return html`<${Dialog} labelledBy="unlock-title" onClose=${onClose}>
    <form onSubmit=${submit}>
      <div class="dialog-head">
        <h2 id="unlock-title">Unlock “${sub.label}”</h2>
        <button type="button" class="quiet" onClick=${onClose}>Cancel</button>
      </div>
      <p id="unlock-note">Its keys verify again as soon as you confirm with your authenticator.</p>
      <div class="confirm-step">
        <${Field} id="unlock-code" label="Google Authenticator code" autocomplete="one-time-code"
          inputmode="numeric" required autofocus value=${code} onValue=${setCode} error=${errors.code}
          aria-describedby=${errors.code ? "unlock-note unlock-code-error" : "unlock-note"}
          action=${html`<button type="submit" class="primary" disabled=${busy}>Confirm</button>`} />
      </div>
      <${Alert}>${otherErrors(errors, ["code"])}<//>
    </form>
  <//>`;
}

function DeleteSubAccountDialog({ sub, onClose, onDone }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    try {
      const result = (await gql(DELETE, { input: { id: sub.id } })).deleteSubAccount;
      if (result.userErrors.length > 0) return setError(messages(result.userErrors));
      onDone();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<${Dialog} labelledBy="delete-sub-title" onClose=${onClose}>
    <h2 id="delete-sub-title">Delete “${sub.label}”?</h2>
    <p>Every key of this sub-account is deleted with it, at once: requests signed with them are
      refused from now on. This cannot be undone.</p>
    <${Alert}>${error}<//>
    <div class="actions end">
      <button type="button" onClick=${onClose} autofocus>Cancel</button>
      <button type="button" class="danger" onClick=${confirm} disabled=${busy}>Delete sub-account</button>
    </div>
  <//>`;
}

/**
 * Lock (at once) or Unlock (with a code), and Delete (confirmed), for one sub-account.
 * `onChanged(message, gone)` after a change; `gone` when it was deleted.
 */
function SubAccountActions({ sub, onChanged, onError, small = false }) {
  const [dialog, setDialog] = useState(null); // "unlock" | "delete"
  const [busy, setBusy] = useState(false);
  const cls = small ? "small" : "";
  const lockNow = async () => {
    setBusy(true);
    try {
      await lock(sub);
      onChanged(`Locked “${sub.label}”: its keys are denied until you unlock it.`);
    } catch (e) {
      onError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="sub-actions">
    ${sub.locked
      ? html`<button type="button" class=${cls} onClick=${() => setDialog("unlock")}>Unlock</button>`
      : html`<button type="button" class=${cls} onClick=${lockNow} disabled=${busy}>Lock</button>`}
    <button type="button" class=${`${cls} danger-quiet`} onClick=${() => setDialog("delete")}>Delete</button>
    ${dialog === "unlock" && html`<${UnlockDialog} sub=${sub} onClose=${() => setDialog(null)}
      onDone=${() => { setDialog(null); onChanged(`Unlocked “${sub.label}”: its keys verify again.`); }} />`}
    ${dialog === "delete" && html`<${DeleteSubAccountDialog} sub=${sub} onClose=${() => setDialog(null)}
      onDone=${() => { setDialog(null); onChanged(`Deleted “${sub.label}” and its keys.`, true); }} />`}
  </span>`;
}

function CreateSubAccount({ disabled, onCreated }) {
  const [label, setLabel] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const result = (await gql(CREATE, { input: { label: label.trim() } })).createSubAccount;
      if (result.userErrors.length > 0) return setErrors(errorsByField(result.userErrors));
      setLabel("");
      onCreated(result.subAccount);
    } catch (e) {
      setErrors({ "": e.message });
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="inline-form card" onSubmit=${submit} aria-label="New sub-account">
    <${Field} id="sub-label" label="Label" required maxlength="64" value=${label} onValue=${setLabel}
      error=${errors.label} disabled=${disabled} hint="A desk, strategy or client, e.g. “options desk”."
      action=${html`<button type="submit" class="primary" disabled=${busy || disabled}>Create sub-account</button>`} />
    <${Alert}>${otherErrors(errors, ["label"])}<//>
  </form>`;
}

export function SubAccountsPage({ user }) {
  const [subs, setSubs] = useState(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      setSubs((await gql(LIST)).subAccounts.nodes);
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, []);
  useEffect(() => { load(); }, [load]);
  const changed = (message) => { setNotice(message); setError(""); load(); };
  return html`<section aria-labelledby="subs-title">
    <h1 id="subs-title">Sub-accounts</h1>
    <p class="muted">Desks, strategies or clients you run: each has its own keys and rate-limit pool, no
      password of its own, and is managed here with your authenticator. Your own keys stay under API keys.</p>
    ${!user.twoFactorEnabled && html`<p class="hint">Turn on two-factor authentication to create sub-accounts.</p>`}
    <${CreateSubAccount} disabled=${!user.twoFactorEnabled}
      onCreated=${(sub) => changed(`Created “${sub.label}”.`)} />
    <${Alert} kind="info">${notice}<//>
    <${Alert}>${error}<//>
    ${subs && subs.length === 0 && html`<p class="empty card">No sub-accounts yet.</p>`}
    ${subs && subs.length > 0 && html`<div class="table-wrap"><table class="subs">
      <caption class="visually-hidden">Your sub-accounts</caption>
      <thead><tr><th scope="col">Label</th><th scope="col">Status</th><th scope="col">Live keys</th>
        <th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${subs.map((sub) => html`<tr key=${sub.id}>
        <th scope="row"><a href=${subHref(sub)}>${sub.label}</a></th>
        <td><${State} sub=${sub} /></td>
        <td>${sub.apiKeys.totalCount}</td>
        <td><${Time} value=${sub.createdAt} only="date" /></td>
        <td class="row-actions"><${SubAccountActions} sub=${sub} small onChanged=${changed} onError=${setError} /></td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

/** One sub-account: its state, its actions, and its keys (created for it). */
export function SubAccountPage({ user, params, activityTick }) {
  const id = params[0];
  const [data, setData] = useState(undefined);
  const [dialog, setDialog] = useState(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      const result = await gql(ONE, { id });
      const sub = result.node?.label && !result.node.deletedAt ? result.node : null;
      setData(sub && { sub, keys: sub.apiKeys.nodes, catalog: result.scopeCatalog });
      setError("");
    } catch (e) {
      setError(e.message);
    }
  }, [id]);
  useEffect(() => { load(); }, [load, activityTick]);

  if (data === null) {
    return html`<section><h1>Sub-account not found</h1><p>It was deleted, or it is not yours.</p>
      <p><a href="#/sub-accounts">Back to Sub-accounts</a></p></section>`;
  }
  const changed = (message, gone = false) => {
    if (gone) {
      location.hash = "#/sub-accounts";
      return;
    }
    if (message) setNotice(message);
    load();
  };
  const open = (kind, apiKey = null) => { setNotice(""); setDialog({ kind, apiKey }); };
  const sub = data?.sub;
  return html`<section aria-labelledby="sub-title">
    <p class="crumbs"><a href="#/sub-accounts">Sub-accounts</a> ›</p>
    <${Alert}>${error}<//>
    ${sub && html`
      <div class="section-head">
        <h1 id="sub-title">${sub.label}</h1>
        <div class="actions head-actions">
          <${SubAccountActions} sub=${sub} onChanged=${changed} onError=${setError} />
        </div>
      </div>
      <p><${State} sub=${sub} />${sub.locked ? " — its keys are denied (ACCOUNT_LOCKED) until you unlock it." : ""}
        <span class="muted"> Created <${Time} value=${sub.createdAt} only="date" />.</span></p>
      <p><a href=${usageHref(sub.id)}>Usage of ${sub.label}</a>
        <span class="muted"> — every request on its keys, in the usage view.</span></p>
      <${Alert} kind="info">${notice}<//>
      <div class="section-head">
        <h2 id="sub-keys-title">Keys</h2>
        <button type="button" class="primary" disabled=${!user.twoFactorEnabled}
          onClick=${() => open("create")}>Create New Key</button>
      </div>
      ${data.keys.length === 0
        ? html`<p class="empty card">No keys yet. Keys created here belong to ${sub.label}, and count toward its own limits.</p>`
        : html`<${KeysTable} keys=${data.keys} catalog=${data.catalog} onAction=${open} caption=${`Keys of ${sub.label}`} />`}
      ${dialog && html`<${KeyDialogs} dialog=${dialog} catalog=${data.catalog} subAccountId=${sub.id}
        onClose=${() => setDialog(null)} onChanged=${changed} />`}`}
  </section>`;
}
