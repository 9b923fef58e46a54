// Edit a key (a code is asked only when the change widens access) and roll its secret
// (always confirmed with a code; the previous secret keeps verifying for the overlap).
import { errorsByField, gql, KEY_FIELDS, otherErrors } from "./api.js";
import { allowlistOf, endOfDay, ScopePicker, SecretView } from "./create-key.js";
import { html, useEffect, useRef, useState } from "./lib.js";
import { Alert, Dialog, Field, reveal } from "./ui.js";

const UPDATE = `mutation UpdateApiKey($input: UpdateApiKeyInput!) {
  updateApiKey(input: $input) { apiKey { ${KEY_FIELDS} } challenge { id expiresAt }
    userErrors { field message code } }
}`;
const ROLL = `mutation RollApiKey($input: RollApiKeyInput!) {
  rollApiKey(input: $input) { challenge { id expiresAt } userErrors { field message code } }
}`;
const CONFIRM = `mutation VerifyTwoFactor($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { ${KEY_FIELDS} } secret userErrors { field message code } }
}`;
const OVERLAPS = [[0, "No overlap: stop at once"], [3600, "1 hour"], [6 * 3600, "6 hours"], [86400, "24 hours"]];
const SHOWN = ["label", "scopes", "ipAllowlist", "expiresAt", "rateLimit", "rateLimit.requests",
  "rateLimit.perSeconds", "publicKey", "code", "overlapSeconds"];

const sameSet = (a, b) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
const dayOf = (value) => {
  if (!value) return "";
  const d = new Date(value);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};

/** Only what changed: the server judges narrowing against the key as it is. */
function changes(apiKey, form) {
  const input = { id: apiKey.id };
  if (form.label.trim() !== apiKey.label) input.label = form.label.trim();
  if (!sameSet([...form.scopes], apiKey.scopes)) input.scopes = [...form.scopes];
  const allowlist = allowlistOf(form.allowlist);
  if (!sameSet(allowlist, apiKey.ipAllowlist)) input.ipAllowlist = allowlist;
  if (form.expiresOn && form.expiresOn !== dayOf(apiKey.expiresAt)) input.expiresAt = endOfDay(form.expiresOn);
  const requests = Number(form.rateRequests);
  const perSeconds = Number(form.ratePer);
  if (requests !== apiKey.rateLimit.requests || perSeconds !== apiKey.rateLimit.perSeconds) {
    input.rateLimit = { requests, perSeconds };
  }
  return input;
}

/**
 * The code step shared by edit and roll: `Google Authenticator code` and a button. With
 * `focusOnShow` the field takes the focus and scrolls into view when the step appears (the
 * widening prompt comes after a long form, and the Save button that led to it is gone).
 */
function CodeStep({ code, setCode, error, busy, button, children, focusOnShow = false, note = null }) {
  const box = useRef(null);
  useEffect(() => {
    if (focusOnShow) reveal(box.current?.querySelector("input"));
  }, []);
  return html`<div class="confirm-step" ref=${box}>
    ${children}
    <${Field} id="confirm-code" label="Google Authenticator code" autocomplete="one-time-code"
      inputmode="numeric" required autofocus value=${code} onValue=${setCode} error=${error}
      aria-describedby=${[note, error ? "confirm-code-error" : null].filter(Boolean).join(" ") || undefined}
      action=${html`<button type="submit" class="primary" disabled=${busy}>${button}</button>`} />
  </div>`;
}

async function confirmChallenge(challenge, code) {
  return (await gql(CONFIRM, { input: { challengeId: challenge.id, code } })).verifyTwoFactor;
}

export function EditKeyDialog({ apiKey, catalog, onClose, onSaved }) {
  const [form, setForm] = useState({
    label: apiKey.label, scopes: new Set(apiKey.scopes), allowlist: apiKey.ipAllowlist.join("\n"),
    expiresOn: dayOf(apiKey.expiresAt), rateRequests: String(apiKey.rateLimit.requests),
    ratePer: String(apiKey.rateLimit.perSeconds),
  });
  const [challenge, setChallenge] = useState(null);
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = (name) => (value) => setForm((f) => ({ ...f, [name]: value }));

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      if (challenge) {
        const done = await confirmChallenge(challenge, code);
        setCode("");
        if (done.userErrors.length > 0) {
          const byField = errorsByField(done.userErrors);
          return setErrors({ code: byField.code ?? Object.values(byField).join(" ") });
        }
        return onSaved(done.apiKey, "Saved after confirmation.");
      }
      const input = changes(apiKey, form);
      if (Object.keys(input).length === 1) return setErrors({ "": "Nothing changed." });
      const result = (await gql(UPDATE, { input })).updateApiKey;
      if (result.userErrors.length > 0) return setErrors(errorsByField(result.userErrors));
      if (result.challenge) return setChallenge(result.challenge);
      return onSaved(result.apiKey, "Saved.");
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  return html`<${Dialog} labelledBy="edit-key-title" onClose=${onClose} className="wide">
    <form onSubmit=${submit}>
      <div class="dialog-head">
        <h2 id="edit-key-title">Edit “${apiKey.label}”</h2>
        <button type="button" class="quiet" onClick=${onClose}>Cancel</button>
      </div>
      <fieldset class="plain" disabled=${challenge !== null}>
        <${Field} id="edit-label" label="Label" required maxlength="64" value=${form.label}
          onValue=${set("label")} error=${errors.label} />
        <${ScopePicker} catalog=${catalog} selected=${form.scopes} onChange=${set("scopes")}
          error=${errors.scopes} />
        <${Field} id="edit-allowlist" label="IP allowlist" multiline rows="3" value=${form.allowlist}
          onValue=${set("allowlist")} error=${errors.ipAllowlist}
          hint="One address or network per line. Empty: any address." />
        <div class="row">
          <${Field} id="edit-expires" label="Expires on" type="date" value=${form.expiresOn}
            onValue=${set("expiresOn")} error=${errors.expiresAt} />
          <${Field} id="edit-rate-requests" label="Rate limit: requests" type="number" min="1"
            value=${form.rateRequests} onValue=${set("rateRequests")}
            error=${errors["rateLimit.requests"] ?? errors.rateLimit} />
          <${Field} id="edit-rate-seconds" label="per seconds" type="number" min="1" value=${form.ratePer}
            onValue=${set("ratePer")} error=${errors["rateLimit.perSeconds"]} />
        </div>
      </fieldset>
      ${challenge
        ? html`<${CodeStep} code=${code} setCode=${setCode} error=${errors.code} busy=${busy} button="Confirm" focusOnShow note="widening-note">
            <p class="warning" id="widening-note">This change widens what the key may do: confirm it with your authenticator.</p>
          <//>`
        : html`<div class="actions end"><button type="submit" class="primary" disabled=${busy}>Save changes</button></div>`}
      <${Alert}>${otherErrors(errors, SHOWN)}<//>
    </form>
  <//>`;
}

export function RollKeyDialog({ apiKey, onClose, onRolled }) {
  const [overlap, setOverlap] = useState("3600");
  const [publicKey, setPublicKey] = useState("");
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [rolled, setRolled] = useState(null);
  const ed25519 = apiKey.algorithm === "ED25519";
  const quarantined = apiKey.status === "QUARANTINED";

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const input = { id: apiKey.id, overlapSeconds: quarantined ? 0 : Number(overlap) };
      if (ed25519) input.publicKey = publicKey.trim();
      const result = (await gql(ROLL, { input })).rollApiKey;
      if (result.userErrors.length > 0) return setErrors(errorsByField(result.userErrors));
      const done = await confirmChallenge(result.challenge, code);
      setCode("");
      if (done.userErrors.length > 0) {
        const byField = errorsByField(done.userErrors);
        return setErrors({ code: byField.code ?? Object.values(byField).join(" ") });
      }
      setRolled({ apiKey: done.apiKey, secret: done.secret });
      onRolled(done.apiKey);
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  if (rolled) {
    return html`<${Dialog} labelledBy="create-key-title" onClose=${onClose} className="wide">
      <${SecretView} apiKey=${rolled.apiKey} secret=${rolled.secret} onClose=${onClose} title="Secret rolled" />
    <//>`;
  }
  return html`<${Dialog} labelledBy="roll-key-title" onClose=${onClose}>
    <form onSubmit=${submit}>
      <div class="dialog-head">
        <h2 id="roll-key-title">Roll the ${ed25519 ? "public key" : "secret"} of “${apiKey.label}”</h2>
        <button type="button" class="quiet" onClick=${onClose}>Cancel</button>
      </div>
      <p>The key keeps its identifier <code>${apiKey.key}</code>. ${ed25519
        ? "Requests must then be signed with the private key matching the new public key."
        : quarantined ? "A new secret is shown once." : "A new secret is shown once; partners move to it during the overlap."}</p>
      ${quarantined
        ? html`<p class="warning" id="roll-quarantined">The key is quarantined: the old ${ed25519 ? "public key" : "secret"} stops
            working at once (no overlap), and the key is active again with the new one.</p>`
        : html`<div class="field"><label for="roll-overlap">Old ${ed25519 ? "public key" : "secret"} keeps working for</label>
        <select id="roll-overlap" value=${overlap} onChange=${(e) => setOverlap(e.currentTarget.value)}>
          ${OVERLAPS.map(([seconds, text]) => html`<option value=${String(seconds)} key=${seconds}>${text}</option>`)}
        </select></div>`}
      ${ed25519 && html`<${Field} id="roll-public" label="Public key" multiline rows="3" required
        value=${publicKey} onValue=${setPublicKey} error=${errors.publicKey} />`}
      <${CodeStep} code=${code} setCode=${setCode} error=${errors.code} busy=${busy}
        button="Roll now" note=${quarantined ? "roll-quarantined" : null} />
      <${Alert}>${otherErrors(errors, SHOWN)}<//>
    </form>
  <//>`;
}
