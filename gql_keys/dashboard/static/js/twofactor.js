// Two-factor setup: password -> QR code and Setup key -> Authentication code -> recovery codes.
import { errorsByField, gql, USER_FIELDS } from "./api.js";
import { html, useEffect, useState } from "./lib.js";
import { Alert, CopyButton, downloadText, Field, SignOutOthers } from "./ui.js";

const BEGIN = `mutation BeginTwoFactorSetup($input: BeginTwoFactorSetupInput!) {
  beginTwoFactorSetup(input: $input) { secret qrSvg userErrors { field message code } }
}`;
const CONFIRM = `mutation ConfirmTwoFactorSetup($input: ConfirmTwoFactorSetupInput!) {
  confirmTwoFactorSetup(input: $input) {
    user { ${USER_FIELDS} } recoveryCodes userErrors { field message code }
  }
}`;

/** The server's SVG as an image (a blob: URL): it is never parsed into the page as markup. */
function QrImage({ svg }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const objectUrl = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [svg]);
  return url ? html`<img class="qr" src=${url} alt="QR code" width="200" height="200" />` : null;
}

/**
 * The base32 setup key in groups of four, as authenticator apps show it. The groups are
 * spaced by CSS, not by characters: the element's text, a selection and Copy all give the
 * key itself.
 */
export function SetupKey({ secret }) {
  const groups = secret.match(/.{1,4}/g) ?? [];
  return html`<div class="setup-key">
    <label for="setup-key">Setup key</label>
    <div class="control-row">
      <output id="setup-key" class="secret grouped" aria-live="off">${groups.map((g, i) => html`<span key=${i}>${g}</span>`)}</output>
      <${CopyButton} text=${secret} what="Setup key" selectId="setup-key" />
    </div>
  </div>`;
}

export function TwoFactorSetup({ onEnabled }) {
  const [password, setPassword] = useState("");
  const [setup, setSetup] = useState(null); // { secret, qrSvg }
  const [code, setCode] = useState("");
  const [signOut, setSignOut] = useState(true);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);

  async function run(action) {
    setBusy(true);
    setErrors({});
    try {
      await action();
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  const begin = (event) => {
    event.preventDefault();
    return run(async () => {
      const result = (await gql(BEGIN, { input: { password } })).beginTwoFactorSetup;
      if (result.userErrors.length > 0) return setErrors(errorsByField(result.userErrors));
      setPassword("");
      setSetup({ secret: result.secret, qrSvg: result.qrSvg });
    });
  };

  const confirm = (event) => {
    event.preventDefault();
    return run(async () => {
      const input = { code, signOutOtherSessions: signOut };
      const result = (await gql(CONFIRM, { input })).confirmTwoFactorSetup;
      if (result.userErrors.length > 0) {
        setCode("");
        return setErrors(errorsByField(result.userErrors));
      }
      setSetup(null);
      onEnabled(result.user, result.recoveryCodes);
    });
  };

  return html`<section class="card" aria-labelledby="twofactor-title">
    <h2 id="twofactor-title">Turn on two-factor authentication</h2>
    <p>API keys are created and changed only with a code from an authenticator app such as
      Google Authenticator. Set it up once to manage keys.</p>
    ${!setup && html`<form onSubmit=${begin} class="inline-form">
      <${Field} id="twofactor-password" label="Password" type="password" autocomplete="current-password"
        required value=${password} onValue=${setPassword} error=${errors.password}
        hint="Confirm it is you before a new authenticator is linked."
        action=${html`<button type="submit" class="primary" disabled=${busy}>Set up authenticator</button>`} />
    </form>`}
    ${setup && html`<div class="twofactor-setup">
      <${QrImage} svg=${setup.qrSvg} />
      <div>
        <p>Scan the QR code with your authenticator app, or type the setup key into it.</p>
        <${SetupKey} secret=${setup.secret} />
        <form onSubmit=${confirm} class="inline-form">
          <${Field} id="twofactor-code" label="Authentication code" autocomplete="one-time-code"
            inputmode="numeric" required value=${code} onValue=${setCode} error=${errors.code}
            hint="The 6-digit code the app shows now."
            action=${html`<button type="submit" class="primary" disabled=${busy}>Enable</button>`} />
          <${SignOutOthers} id="twofactor-sign-out" checked=${signOut} onChange=${setSignOut} />
        </form>
      </div>
    </div>`}
    <${Alert}>${errors[""]}<//>
  </section>`;
}

export function RecoveryCodes({ codes, onDone }) {
  const save = () => downloadText("gql-keys-recovery-codes.txt", `${codes.join("\n")}\n`);
  return html`<section class="card notice" aria-labelledby="recovery-title">
    <h2 id="recovery-title">Save your recovery codes</h2>
    <p role="alert">Two-factor authentication is on. These recovery codes are shown only this once:
      each one signs you in once if you lose your phone. Store them somewhere safe.</p>
    <ul class="recovery-codes" aria-label="Recovery codes">
      ${codes.map((code) => html`<li key=${code}><code>${code}</code></li>`)}
    </ul>
    <div class="actions">
      <button type="button" onClick=${save}>Download recovery codes</button>
      <button type="button" class="primary" onClick=${onDone}>I have saved them</button>
    </div>
  </section>`;
}
