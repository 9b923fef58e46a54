// An integration partner: sign a request with its key and call gql-keys.
//
//   node partner.mjs http://127.0.0.1:8000 KEY --secret SECRET          # HMAC_SHA512 key
//   node partner.mjs http://127.0.0.1:8000 KEY --private-key key.pem    # ED25519 key
//   node partner.mjs keygen key.pem    # make an Ed25519 pair; prints the public key (PEM)
//
// Asks /graphql which key signed (currentApiKey) with Node's built-in fetch. With
// --verifier-token T it also plays the gateway once: a signed GET /api/v4/spot/accounts is
// passed to the forward-auth endpoint /authz the way Envoy's ext_authz does, and the
// status and X-Verification-Code are printed.
import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { newEd25519Key, signedHeaders } from "./signing.mjs";

const CURRENT_KEY = "{ currentApiKey { label algorithm scopes expiresAt lastUsedAt } }";

/** POST a document to /graphql signed with the key (over the exact bytes that are sent). */
export async function callGraphql(baseUrl, key, document, credentials) {
  const body = JSON.stringify({ query: document });
  const headers = signedHeaders(key, "POST", "/graphql", "", body, credentials);
  const response = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Send a signed GET the way a forward-auth gateway checks it: to /authz + path. */
export async function throughForwardAuth(baseUrl, key, verifierToken, path, query, credentials) {
  const headers = signedHeaders(key, "GET", path, query, "", credentials);
  const url = `${baseUrl}/authz${path}${query ? `?${query}` : ""}`;
  return fetch(url, { headers: { ...headers, "X-Verifier-Token": verifierToken } });
}

async function main(args) {
  if (args[0] === "keygen") {
    const { privateKey, publicKeyPem } = newEd25519Key();
    writeFileSync(args[1], privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    process.stdout.write(publicKeyPem);
    return;
  }
  const [baseUrl, key, how, value, ...rest] = args;
  let credentials;
  if (how === "--secret") credentials = { secret: value };
  else if (how === "--private-key") credentials = { privateKey: createPrivateKey(readFileSync(value)) };
  else throw new Error("usage: node partner.mjs BASE_URL KEY (--secret S | --private-key FILE)");
  const answer = await callGraphql(baseUrl, key, CURRENT_KEY, credentials);
  console.log(JSON.stringify(answer));
  if (answer.errors) {
    process.exitCode = 1;
    return;
  }
  const verifierAt = rest.indexOf("--verifier-token");
  if (verifierAt !== -1) {
    const checked = await throughForwardAuth(
      baseUrl, key, rest[verifierAt + 1], "/api/v4/spot/accounts", "currency=BTC", credentials,
    );
    const verificationCode = checked.headers.get("X-Verification-Code");
    console.log(JSON.stringify({ authz: checked.status, verificationCode }));
  }
}

await main(process.argv.slice(2));
