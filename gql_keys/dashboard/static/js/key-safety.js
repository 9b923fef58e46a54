// Key safety: quarantine a key at once (confirmed), release it with a code (RELEASE_KEY),
// and cancel a change that is still cooling off.
import { errorsByField, gql, KEY_FIELDS, openAndConfirm, otherErrors } from "./api.js";
import { html, useState } from "./lib.js";
import { Alert, Dialog, Field } from "./ui.js";

const QUARANTINE = `mutation QuarantineApiKey($input: QuarantineApiKeyInput!) {
  quarantineApiKey(input: $input) { apiKey { ${KEY_FIELDS} } userErrors { field message code } }
}`;
const RELEASE = `mutation ReleaseApiKey($input: ReleaseApiKeyInput!) {
  releaseApiKey(input: $input) { challenge { id expiresAt } userErrors { field message code } }
}`;
const CONFIRM = `mutation VerifyTwoFactor($input: VerifyTwoFactorInput!) {
  verifyTwoFactor(input: $input) { apiKey { ${KEY_FIELDS} } userErrors { field message code } }
}`;
const CANCEL_PENDING = `mutation CancelPendingKeyChange($input: CancelPendingKeyChangeInput!) {
  cancelPendingKeyChange(input: $input) { apiKey { ${KEY_FIELDS} } userErrors { field message code } }
}`;

const messages = (userErrors) => Object.values(errorsByField(userErrors)).join(" ");

/** Drop a key's pending change at once; resolves to the key, or throws with the reason. */
export async function cancelPendingChange(apiKey) {
  const result = (await gql(CANCEL_PENDING, { input: { id: apiKey.id } })).cancelPendingKeyChange;
  if (result.userErrors.length > 0) throw new Error(messages(result.userErrors));
  return result.apiKey;
}

export function QuarantineDialog({ apiKey, onClose, onDone }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    try {
      const result = (await gql(QUARANTINE, { input: { id: apiKey.id } })).quarantineApiKey;
      if (result.userErrors.length > 0) return setError(messages(result.userErrors));
      onDone(result.apiKey);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<${Dialog} labelledBy="quarantine-title" onClose=${onClose}>
    <h2 id="quarantine-title">Quarantine “${apiKey.label}”?</h2>
    <p>From now on the key only reads and cancels orders: everything else it signs is refused
      (<code>KEY_QUARANTINED</code>), so a bot can still see and cancel while you find out what
      happened. Leave quarantine by rolling the secret, releasing the key with your
      authenticator, or deleting it.</p>
    <${Alert}>${error}<//>
    <div class="actions end">
      <button type="button" onClick=${onClose} autofocus>Cancel</button>
      <button type="button" class="danger" onClick=${confirm} disabled=${busy}>Quarantine key</button>
    </div>
  <//>`;
}

export function ReleaseDialog({ apiKey, onClose, onDone }) {
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const { done, errors: refused, spent } = await openAndConfirm({
        open: RELEASE, field: "releaseApiKey", input: { id: apiKey.id }, confirm: CONFIRM, code,
      });
      if (spent) setCode("");
      if (refused) return setErrors(refused);
      onDone(done.apiKey);
    } catch (e) {
      setErrors({ "": e.message });
    } finally {
      setBusy(false);
    }
  }
  return html`<${Dialog} labelledBy="release-title" onClose=${onClose}>
    <form onSubmit=${submit}>
      <div class="dialog-head">
        <h2 id="release-title">Release “${apiKey.label}” from quarantine</h2>
        <button type="button" class="quiet" onClick=${onClose}>Cancel</button>
      </div>
      <p id="release-note">Only for a false alarm: the key's secret stays the same and verifies
        everything again. If the secret may really be out, roll it instead.</p>
      <div class="confirm-step">
        <${Field} id="release-code" label="Google Authenticator code" autocomplete="one-time-code"
          inputmode="numeric" required autofocus value=${code} onValue=${setCode} error=${errors.code}
          aria-describedby=${errors.code ? "release-note release-code-error" : "release-note"}
          action=${html`<button type="submit" class="primary" disabled=${busy}>Confirm</button>`} />
      </div>
      <${Alert}>${otherErrors(errors, ["code"])}<//>
    </form>
  <//>`;
}
