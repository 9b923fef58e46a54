// Live activity over graphql-transport-ws (the graphql-ws client), reconnecting for ever with
// a capped back-off, so a server restart only shows "Reconnecting…" for a moment.
import { createClient } from "../vendor/graphql-ws/client.js";
import { endpoint, expireSession, gql, session } from "./api.js";
import { html } from "./lib.js";
import { activityName, codeName } from "./names.js";
import { Time } from "./ui.js";

const ACTIVITY = `subscription Activity { keyActivity {
  id kind occurredAt key code clientIp method path apiKey { id label }
} }`;
const RECENT = `query RecentActivity($first: Int!) { usageLogs(first: $first) {
  nodes { id occurredAt allowed code key clientIp method path apiKey { id label } }
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

/** The last requests on the user's keys from the usage log, as feed events (newest first). */
export async function recentActivity(count) {
  const data = await gql(RECENT, { first: count });
  return data.usageLogs.nodes.map((log) => ({
    id: `log:${log.id}`,
    kind: log.allowed ? "KEY_USED" : "KEY_DENIED",
    occurredAt: log.occurredAt,
    apiKey: log.apiKey,
    key: log.key,
    code: log.code,
    clientIp: log.clientIp,
    method: log.method,
    path: log.path,
  }));
}

// The same request seen live and in the log: its id differs, what it says does not.
const sameRequest = (e) => [e.kind, Date.parse(e.occurredAt), e.key, e.code, e.clientIp, e.method, e.path].join("|");

/** `newer` and `older` as one feed: newest first, each event once, at most MAX_EVENTS. */
export function mergeEvents(newer, older) {
  const seen = new Set();
  const out = [];
  for (const event of [...newer, ...older]) {
    const id = sameRequest(event);
    if (seen.has(event.id) || seen.has(id)) continue;
    seen.add(event.id);
    seen.add(id);
    out.push(event);
  }
  out.sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt));
  return out.slice(0, MAX_EVENTS);
}

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  failed: "Disconnected: reload the page to retry.",
};

/** "Allowed", or for a denial what was wrong ("Address not allowed"). */
const describe = (event) => (event.kind === "KEY_DENIED" && event.code ? codeName(event.code) : activityName(event.kind));

export function LiveActivity({ events, status }) {
  return html`<section class="card live" aria-labelledby="live-title">
    <div class="section-head">
      <h2 id="live-title">Live activity</h2>
      <span class=${`live-status live-${status}`}>${STATUS_TEXT[status] ?? status}</span>
    </div>
    <div role="log" aria-labelledby="live-title" aria-live="polite"><ol class="events">
      ${events.map((e) => html`<li key=${e.id} class=${`event event-${e.kind.toLowerCase()}`}>
        <span class="line"><${Time} value=${e.occurredAt} only="time" />
          <strong>${describe(e)}</strong>
          ${e.code && html`<code class="code">${e.code}</code>`}</span>
        <span class="line"><span class="who">${e.apiKey?.label ?? e.key ?? ""}</span>
          ${e.clientIp && html`<span class="ip">from ${e.clientIp}</span>`}</span>
        ${e.method && html`<span class="req" title=${`${e.method} ${e.path}`}>${e.method} ${e.path}</span>`}
      </li>`)}
    </ol></div>
    ${events.length === 0 && html`<p class="muted">Requests signed with your keys appear here as they happen.</p>`}
  </section>`;
}
