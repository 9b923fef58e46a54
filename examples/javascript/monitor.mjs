// Watch key activity live with the graphql-ws client (a monitor service token).
//
//   npm ci
//   node monitor.mjs http://127.0.0.1:8000 "$MONITOR_TOKEN" [--count N] [--timeout S]
//
// Prints one JSON line per keyActivity event; "listening" goes to standard error once
// the server acknowledged the connection.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const SUBSCRIPTION = `
subscription Activity($kinds: [KeyActivityKind!]) {
  keyActivity(kinds: $kinds) {
    id kind occurredAt key code clientIp method path
    apiKey { id label }
  }
}`;

function option(args, name) {
  const at = args.indexOf(name);
  return at === -1 ? undefined : Number(args[at + 1]);
}

const [baseUrl, token, ...rest] = process.argv.slice(2);
const count = option(rest, "--count");
const timeout = option(rest, "--timeout");

const client = createClient({
  url: `${baseUrl.replace(/^http/, "ws")}/graphql`,
  webSocketImpl: WebSocket, // Node 22+ has a global WebSocket; Node 20 needs the ws package
  // The token goes in connection_init, not in a header: browsers cannot set one.
  connectionParams: { authorization: `Bearer ${token}` },
  on: { connected: () => console.error("listening") },
  retryAttempts: 0,
});

let timer;
if (timeout) {
  timer = setTimeout(() => {
    console.error(`no more events within ${timeout} s`);
    process.exit(1);
  }, timeout * 1000);
}

let seen = 0;
try {
  for await (const result of client.iterate({ query: SUBSCRIPTION, variables: { kinds: null } })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    console.log(JSON.stringify(result.data.keyActivity));
    seen += 1;
    if (count && seen >= count) break;
  }
} finally {
  clearTimeout(timer);
  await client.dispose();
}
