// GraphQL over HTTP to this origin's /graphql, with the session token from sessionStorage.
// The token never goes to localStorage or a cookie: it dies with the tab.
const TOKEN_KEY = "gql-keys.session";
export const SESSION_EXPIRED = "gql-keys:session-expired";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  start(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  end() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A failure that is not a userError: the server is unreachable or refused the request. */
export class ApiError extends Error {
  constructor(message, code = null) {
    super(message);
    this.code = code;
  }
}

/** The session token stopped working: forget it and send the person back to sign-in. */
export function expireSession() {
  if (session.token === null) return;
  session.end();
  window.dispatchEvent(new CustomEvent(SESSION_EXPIRED));
}

export const endpoint = () => new URL("graphql", document.baseURI).href;

export async function gql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/graphql-response+json, application/json" };
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(endpoint(), {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without a GraphQL result.`, "HTTP");
  }
  const errors = body.errors ?? [];
  if (token && errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
    expireSession();
    throw new ApiError("Your session has ended.", "UNAUTHENTICATED");
  }
  if (errors.length > 0) {
    const first = errors[0];
    throw new ApiError(first.message, first.extensions?.code ?? null);
  }
  return body.data;
}

/** userErrors by the input field they name (`label`, `ipAllowlist`, …); "" for the form. */
export function errorsByField(userErrors) {
  const out = {};
  for (const error of userErrors) {
    const path = (error.field ?? []).filter((part) => part !== "input" && !/^\d+$/.test(part));
    const key = path.join(".");
    let message = error.message;
    if (error.code === "TOO_MANY_ATTEMPTS") message = withRetryTime(message);
    out[key] = out[key] ? `${out[key]} ${message}` : message;
  }
  return out;
}

/**
 * Opens a challenge with `open` (its payload is `data[field]`) and confirms it with `code`
 * through `confirm`, a verifyTwoFactor document. Resolves to `{ done }` (verifyTwoFactor's
 * payload) or `{ errors }` by field, a refused code under `code`; `spent` says whether the
 * code was sent (a form clears it then).
 */
export async function openAndConfirm({ open, field, input, confirm, code }) {
  const opened = (await gql(open, { input }))[field];
  if (opened.userErrors.length > 0) return { errors: errorsByField(opened.userErrors), spent: false };
  const done = (await gql(confirm, { input: { challengeId: opened.challenge.id, code } })).verifyTwoFactor;
  if (done.userErrors.length > 0) {
    const byField = errorsByField(done.userErrors);
    return { errors: { code: byField.code ?? Object.values(byField).join(" ") }, spent: true };
  }
  return { done, spent: true };
}

/** The messages of errors no field on the form shows (`shown` lists the fields that do). */
export function otherErrors(errors, shown) {
  return Object.entries(errors).filter(([field]) => !shown.includes(field)).map(([, message]) => message).join(" ") || null;
}

/** "try again in 120 seconds." gains the clock time, so the person knows when. */
export function withRetryTime(message) {
  const match = /(\d+)\s*seconds?/.exec(message);
  if (!match) return message;
  const at = new Date(Date.now() + Number(match[1]) * 1000);
  return `${message} (at ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })})`;
}

export const KEY_FIELDS = `id key label algorithm scopes ipAllowlist status createdAt expiresAt
  lastUsedAt lastUsedIp rateLimit { requests perSeconds } canary quarantinedAt quarantineReason
  pendingChange { effectiveAt scopes ipAllowlist }`;
export const USER_FIELDS = "id email twoFactorEnabled createdAt";
