// Sign in (with the second factor when the account has it) and Create account.
import { errorsByField, gql, session, USER_FIELDS } from "./api.js";
import { html, useEffect, useState } from "./lib.js";
import { Alert, Field } from "./ui.js";

const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { token user { ${USER_FIELDS} } userErrors { field message code } }
}`;
const REGISTER = `mutation Register($input: RegisterInput!) {
  register(input: $input) { user { id } userErrors { field message code } }
}`;

async function login(email, password, totpCode) {
  const data = await gql(LOGIN, { input: { email, password, totpCode: totpCode || null } });
  return data.login;
}

/** The product's mark and name, in the top bar and above the sign-in forms. */
export function Brand() {
  return html`<span class="brand-mark"><img src="dashboard/favicon.svg" alt="" width="22" height="22" />gql-keys</span>`;
}

function AuthPage({ title, children }) {
  return html`<main class="auth" id="main">
    <p class="product"><${Brand} /><span class="tagline">API keys for your trading integrations</span></p>
    <h1>${title}</h1>
    ${children}
  </main>`;
}

export function SignIn({ onSignedIn, notice }) {
  // A notice from before (signed out, session expired) is stale once the person acts.
  const [showNotice, setShowNotice] = useState(true);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (needsCode) document.getElementById("signin-code")?.focus();
  }, [needsCode]);

  async function submit(event) {
    event.preventDefault();
    setShowNotice(false);
    setBusy(true);
    setErrors({});
    try {
      const result = await login(email, password, needsCode ? code : null);
      const twoFactor = result.userErrors.find((e) => e.code === "TWO_FACTOR_REQUIRED");
      if (twoFactor) {
        setNeedsCode(true);
        if (needsCode) setErrors({ totpCode: twoFactor.message });
        return;
      }
      if (result.userErrors.length > 0) {
        const byField = errorsByField(result.userErrors);
        if (byField.totpCode) setCode("");
        setErrors(byField);
        return;
      }
      session.start(result.token);
      onSignedIn(result.user);
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  return html`<${AuthPage} title="Sign in">
    <${Alert} kind="info">${showNotice && notice}<//>
    <form onSubmit=${submit}>
      <${Field} id="signin-email" label="Email" type="email" autocomplete="username" required autofocus
        value=${email} onValue=${setEmail} error=${errors.email} />
      <${Field} id="signin-password" label="Password" type="password" autocomplete="current-password"
        required value=${password} onValue=${setPassword} error=${errors.password} />
      ${needsCode && html`<${Field} id="signin-code" label="Authentication code" autocomplete="one-time-code"
        inputmode="numeric" required value=${code} onValue=${setCode} error=${errors.totpCode}
        hint="The 6-digit code from your authenticator app, or one of your recovery codes." />`}
      <${Alert}>${errors[""]}<//>
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
    <p class="switch">New here? <a href="#/register">Create account</a></p>
  <//>`;
}

export function CreateAccount({ onSignedIn }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const data = await gql(REGISTER, { input: { email, password } });
      if (data.register.userErrors.length > 0) {
        setErrors(errorsByField(data.register.userErrors));
        return;
      }
      const result = await login(email, password, null);
      if (result.userErrors.length > 0 || !result.token) {
        location.hash = "#/";
        return;
      }
      session.start(result.token);
      onSignedIn(result.user);
    } catch (error) {
      setErrors({ "": error.message });
    } finally {
      setBusy(false);
    }
  }

  return html`<${AuthPage} title="Create account">
    <form onSubmit=${submit}>
      <${Field} id="register-email" label="Email" type="email" autocomplete="username" required
        value=${email} onValue=${setEmail} error=${errors.email} />
      <${Field} id="register-password" label="Password" type="password" autocomplete="new-password"
        required value=${password} onValue=${setPassword} error=${errors.password}
        hint="At least 12 characters; a long phrase is easiest to remember." />
      <${Alert}>${errors[""]}<//>
      <button type="submit" class="primary" disabled=${busy}>Create account</button>
    </form>
    <p class="switch">Already registered? <a href="#/">Back to sign in</a></p>
  <//>`;
}
