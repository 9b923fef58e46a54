// Live activity over graphql-transport-ws (the graphql-ws client), reconnecting for ever with
// a capped back-off, so a server restart only shows "Reconnecting…" for a moment.
import { createClient } from "../vendor/graphql-ws/client.js";
import { endpoint, expireSession, session } from "./api.js";
import { html } from "./lib.js";
import { Time } from "./ui.js";

const ACTIVITY = `subscription Activity { keyActivity {
  id kind occurredAt key code clientIp method path apiKey { id label }
} }`;
export const MAX_EVENTS = 50;
const MAX_WAIT_MS = 5000;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

const wsUrl = () => {
  const url = new URL(endpoint());
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
};

/**
 * Subscribe to the signed-in user's key activity. `onEvent(event)` gets each event and
 * `onStatus("connecting" | "connected" | "reconnecting")` the connection state.
 * Returns a function that ends the subscription and closes the socket.
 */
export function watchActivity({ onEvent, onStatus }) {
  let connectedOnce = false;
  const client = createClient({
    url: wsUrl(),
    connectionParams: () => ({ authorization: `Bearer ${session.token}` }),
    retryAttempts: Infinity,
    shouldRetry: (event) => event?.code !== CLOSE_FORBIDDEN,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(MAX_WAIT_MS, 250 * 2 ** retries))),
    keepAlive: 10_000,
    on: {
      connected: () => {
        connectedOnce = true;
        onStatus("connected");
      },
      closed: () => onStatus(connectedOnce ? "reconnecting" : "connecting"),
    },
  });
  let ended = false;
  const stop = client.subscribe({ query: ACTIVITY }, {
    next: (result) => result.data && onEvent(result.data.keyActivity),
    error: (error) => {
      if (ended) return;
      if (error?.code === CLOSE_UNAUTHORIZED || error?.code === CLOSE_FORBIDDEN) expireSession();
      else onStatus("failed");
    },
    complete: () => {},
  });
  return () => {
    ended = true;
    stop();
    client.dispose();
  };
}

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  failed: "Disconnected: reload the page to retry.",
};

function describe(event) {
  switch (event.kind) {
    case "KEY_USED": return "Allowed";
    case "KEY_DENIED": return "Denied";
    case "KEY_CREATED": return "Key created";
    case "KEY_DELETED": return "Key deleted";
    case "KEY_UPDATED": return "Key changed";
    case "KEY_ROLLED": return "Secret rolled";
    case "KEY_EXPIRING": return "Expires within 7 days";
    case "TWO_FACTOR_FAILED": return "Wrong authenticator code";
    default: return event.kind;
  }
}

export function LiveActivity({ events, status }) {
  return html`<section class="card live" aria-labelledby="live-title">
    <div class="section-head">
      <h2 id="live-title">Live activity</h2>
      <span class=${`live-status live-${status}`}>${STATUS_TEXT[status] ?? status}</span>
    </div>
    <ol class="events" role="log" aria-labelledby="live-title" aria-live="polite">
      ${events.map((e) => html`<li key=${e.id} class=${`event event-${e.kind.toLowerCase()}`}>
        <${Time} value=${e.occurredAt} only="time" />
        <strong>${describe(e)}</strong>
        ${e.code && html`<code class="code">${e.code}</code>`}
        <span class="who">${e.apiKey?.label ?? e.key ?? ""}</span>
        ${e.method && html`<span class="req">${e.method} ${e.path}</span>`}
        ${e.clientIp && html`<span class="ip">from ${e.clientIp}</span>`}
      </li>`)}
    </ol>
    ${events.length === 0 && html`<p class="muted">Requests signed with your keys appear here as they happen.</p>`}
  </section>`;
}
