// The Create New Key dialog, one form in the contract's order: Label, a checkbox per scope,
// IP allowlist, then the Google Authenticator code and Next (the server checks the details
// before the code is spent); on success the secret, once. Closing the dialog unmounts it,
// secret and all. The same dialog makes canary keys.
import { errorsByField, gql, KEY_FIELDS, otherErrors } from "./api.js";
import { html, useRef, useState } from "./lib.js";
import { Alert, CopyButton, Dialog, Field, FieldError, reveal } from "./ui.js";

const CREATE = `mutation CreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { challenge { id expiresAt } userErrors { field message code } }
}`;
const CONFIRM = `mutation VerifyTwoFactor($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { ${KEY_FIELDS} } secret userErrors { field message code } }
}`;

const readOf = (scope) => (scope.endsWith("_WRITE") ? scope.replace(/_WRITE$/, "_READ") : null);
const writeOf = (scope) => (scope.endsWith("_READ") ? scope.replace(/_READ$/, "_WRITE") : null);

/** Ticking a WRITE ticks its READ (WRITE grants it); unticking a READ unticks its WRITE. */
export function toggleScope(selected, scope, on) {
  const next = new Set(selected);
  if (on) {
    next.add(scope);
    if (readOf(scope)) next.add(readOf(scope));
  } else {
    next.delete(scope);
    if (writeOf(scope)) next.delete(writeOf(scope));
  }
  return next;
}

function groupByArea(catalog) {
  const areas = new Map();
  for (const info of catalog) {
    if (!areas.has(info.area)) areas.set(info.area, []);
    areas.get(info.area).push(info);
  }
  return [...areas.entries()];
}

const capitalise = (text) => text.charAt(0).toUpperCase() + text.slice(1);

export function ScopePicker({ catalog, selected, onChange, error }) {
  return html`<fieldset class="scopes" aria-describedby=${error ? "scopes-error" : undefined}>
    <legend>Permissions</legend>
    <div class="scope-areas">
      ${groupByArea(catalog).map(([area, infos]) => html`<fieldset class="scope-area" key=${area}>
        <legend>${capitalise(area)}</legend>
        ${infos.map((info) => html`<div class="check" key=${info.scope}>
          <input type="checkbox" id=${`scope-${info.scope}`} checked=${selected.has(info.scope)}
            aria-describedby=${`scope-${info.scope}-desc`}
            onChange=${(e) => onChange(toggleScope(selected, info.scope, e.currentTarget.checked))} />
          <label for=${`scope-${info.scope}`}>${info.title}</label>
          <p class="hint" id=${`scope-${info.scope}-desc`}>${info.description}</p>
        </div>`)}
      </fieldset>`)}
    </div>
    <${FieldError} id="scopes" error=${error} />
  </fieldset>`;
}

/** The allowlist textarea as a list: one entry per line (commas also split). */
export const allowlistOf = (text) => text.split(/\s*[\n,]\s*/).map((s) => s.trim()).filter(Boolean);

/** A date input's day as the end of that day, local time, in RFC 3339. */
export const endOfDay = (day) => new Date(`${day}T23:59:59`).toISOString();

function buildInput(form) {
  const input = {
    label: form.label.trim(),
    scopes: [...form.scopes],
    ipAllowlist: allowlistOf(form.allowlist),
    algorithm: form.algorithm,
  };
  if (input.ipAllowlist.length === 0) input.ipAllowlist = null;
  if (form.expiresOn) input.expiresAt = endOfDay(form.expiresOn);
  if (form.rateRequests || form.ratePer) {
    input.rateLimit = { requests: Number(form.rateRequests), perSeconds: Number(form.ratePer) };
  }
  if (form.algorithm === "ED25519") input.publicKey = form.publicKey.trim();
  return input;
}

export function SecretView({ apiKey, secret, onClose, title = "Key created" }) {
  return html`<div class="secret-view">
    <h2 id="create-key-title">${title}</h2>
    <dl class="facts">
      <dt>Label</dt><dd>${apiKey.label}</dd>
      <dt>Key</dt><dd><code>${apiKey.key}</code></dd>
    </dl>
    ${secret
      ? html`<p class="warning" role="alert"><strong>This secret is shown only once.</strong> Copy it
          into your secret store now: it cannot be shown again, and if it is lost you will need a new key.</p>
        <p class="secret-line"><label for="secret-key">Secret key</label>
          <output id="secret-key" class="secret" aria-live="off">${secret}</output></p>
        <div class="actions"><${CopyButton} text=${secret} selectId="secret-key" what="Secret" /></div>`
      : html`<p>Partners sign with the Ed25519 private key that matches the public key you gave;
          no secret is kept or shown here.</p>`}
    <div class="actions end"><button type="button" class="primary" onClick=${onClose}>Done</button></div>
  </div>`;
}

const DETAIL_FIELDS = ["label", "scopes", "ipAllowlist", "expiresAt", "rateLimit", "rateLimit.requests",
  "rateLimit.perSeconds", "publicKey", "algorithm", "code"];
// Where the focus goes when the server names a field: the first of these that has an error.
const FIELD_IDS = [["label", "key-label"], ["scopes", "scope-first"], ["ipAllowlist", "key-allowlist"],
  ["expiresAt", "key-expires"], ["rateLimit", "key-rate-requests"], ["rateLimit.requests", "key-rate-requests"],
  ["rateLimit.perSeconds", "key-rate-seconds"], ["publicKey", "key-public"]];

/**
 * `canary`: the same dialog makes a decoy (CreateApiKeyInput.canary), said so at the top;
 * `subAccountId`: the key belongs to that sub-account.
 */
export function CreateKeyDialog({ catalog, onClose, onCreated, canary = false, subAccountId = null }) {
  const [form, setForm] = useState({
    label: "", scopes: new Set(), allowlist: "", expiresOn: "", rateRequests: "", ratePer: "",
    algorithm: "HMAC_SHA512", publicKey: "",
  });
  const [code, setCode] = useState("");
  const [challenge, setChallenge] = useState(null); // { id, expiresAt, input }
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null); // { apiKey, secret }
  const set = (name) => (value) => setForm((f) => ({ ...f, [name]: value }));
  const box = useRef(null);
  const focusOn = (id) => reveal(box.current?.querySelector(id === "scope-first" ? ".scopes input" : `#${id}`));

  /** A challenge for the form as it is: the one we hold, or a new one (errors by field). */
  async function challengeFor() {
    const input = buildInput(form);
    if (canary) input.canary = true;
    if (subAccountId) input.subAccountId = subAccountId;
    const sameInput = JSON.stringify(input);
    if (challenge && challenge.input === sameInput && new Date(challenge.expiresAt) > new Date()) return challenge;
    const result = (await gql(CREATE, { input })).createApiKey;
    if (result.userErrors.length > 0) {
      const byField = errorsByField(result.userErrors);
      setErrors(byField);
      const first = FIELD_IDS.find(([field]) => byField[field]);
      if (first) focusOn(first[1]);
      return null;
    }
    const current = { ...result.challenge, input: sameInput };
    setChallenge(current);
    return current;
  }

  /** Next: the server checks the details first (a bad field costs no code), then the code. */
  async function submit(event) {
    event.preventDefault();
    setErrors({});
    if (form.scopes.size === 0) {
      setErrors({ scopes: "Choose at least one permission." });
      return focusOn("scope-first");
    }
    setBusy(true);
    try {
      const current = await challengeFor();
      if (!current) return;
      const confirmed = (await gql(CONFIRM, { input: { challengeId: current.id, code } })).verifyTwoFactor;
      setCode("");
      if (confirmed.userErrors.length > 0) {
        if (confirmed.userErrors.some((e) => e.code === "CHALLENGE_EXPIRED" || e.code === "TOO_MANY_ATTEMPTS")) {
          setChallenge(null);
        }
        const byField = errorsByField(confirmed.userErrors);
        setErrors({ code: byField.code ?? byField.challengeId ?? byField[""] });
        focusOn("key-code");
        return;
      }
      setCreated({ apiKey: confirmed.apiKey, secret: confirmed.secret });
      onCreated(confirmed.apiKey);
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  const title = canary ? "Create canary key" : "Create New Key";
  if (created) {
    return html`<${Dialog} labelledBy="create-key-title" onClose=${onClose} className="wide">
      <${SecretView} apiKey=${created.apiKey} secret=${created.secret} onClose=${onClose}
        title=${canary ? "Canary key created" : "Key created"} />
    <//>`;
  }
  return html`<${Dialog} labelledBy="create-key-title" onClose=${onClose} className="wide">
    <form onSubmit=${submit} class="create-key" ref=${box}>
      <div class="dialog-head">
        <h2 id="create-key-title">${title}</h2>
        <button type="button" class="quiet" onClick=${onClose}>Cancel</button>
      </div>
      ${canary && html`<p class="warning" id="canary-explained"><strong>A decoy, not a key to use.</strong> Plant it where
        a thief would look (a config file, a repository, a wiki page). Every use of it is denied, answered like an
        unknown key so the thief learns nothing, and reported to you with the caller's address. Its permissions
        only make it look tempting.</p>`}
      <${Field} id="key-label" label="Label" required maxlength="64" autofocus value=${form.label}
        onValue=${set("label")} error=${errors.label}
        hint=${canary ? "Where you plant it, e.g. “staging .env in the ops repo”." : "What the key is for, e.g. the partner's name."} />
      <${ScopePicker} catalog=${catalog} selected=${form.scopes} onChange=${set("scopes")}
        error=${errors.scopes} />
      <${Field} id="key-allowlist" label="IP allowlist" multiline rows="3" value=${form.allowlist}
        onValue=${set("allowlist")} error=${errors.ipAllowlist}
        hint="One address or network per line (e.g. 203.0.113.7 or 198.51.100.0/24). Empty: any address, and the key expires within 90 days. Withdraw needs an allowlist." />
      <div class="row">
        <${Field} id="key-expires" label="Expires on" type="date" value=${form.expiresOn}
          onValue=${set("expiresOn")} error=${errors.expiresAt} hint="Optional." />
        <${Field} id="key-rate-requests" label="Rate limit: requests" type="number" min="1"
          value=${form.rateRequests} onValue=${set("rateRequests")}
          error=${errors["rateLimit.requests"] ?? errors.rateLimit} hint="Optional; default 1,000." />
        <${Field} id="key-rate-seconds" label="per seconds" type="number" min="1" value=${form.ratePer}
          onValue=${set("ratePer")} error=${errors["rateLimit.perSeconds"]} hint="Default 10." />
      </div>
      <fieldset class="algorithm">
        <legend>Signature algorithm</legend>
        <div class="check"><input type="radio" name="algorithm" id="alg-hmac" checked=${form.algorithm === "HMAC_SHA512"}
          onChange=${() => set("algorithm")("HMAC_SHA512")} /><label for="alg-hmac">HMAC-SHA512 (a secret shown once)</label></div>
        <div class="check"><input type="radio" name="algorithm" id="alg-ed25519" checked=${form.algorithm === "ED25519"}
          onChange=${() => set("algorithm")("ED25519")} /><label for="alg-ed25519">Ed25519 (your own key pair)</label></div>
      </fieldset>
      ${form.algorithm === "ED25519" && html`<${Field} id="key-public" label="Public key" multiline rows="3"
        required value=${form.publicKey} onValue=${set("publicKey")} error=${errors.publicKey}
        hint="PEM, or base64 of the 32-byte raw Ed25519 public key." />`}
      <div class="confirm-step">
        <${Field} id="key-code" label="Google Authenticator code" autocomplete="one-time-code"
          inputmode="numeric" required value=${code} onValue=${setCode} error=${errors.code}
          hint=${`The 6-digit code your app shows now: it confirms the new ${canary ? "canary " : ""}key. The details are checked first, so a mistake there costs no code.`}
          action=${html`<button type="submit" class="primary" disabled=${busy}>Next</button>`} />
      </div>
      <${Alert}>${otherErrors(errors, DETAIL_FIELDS)}<//>
    </form>
  <//>`;
}
