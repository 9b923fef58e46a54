// Sign a request the Gate APIv4 way, with an HMAC-SHA512 secret or an Ed25519 key.
//
//   payload = METHOD \n PATH \n QUERY \n hex(SHA-512(body)) \n TIMESTAMP
//
// Node's built-in node:crypto only. `node signing.mjs` checks Gate's published test vector.
import { createHash, createHmac, generateKeyPairSync, sign } from "node:crypto";
import { fileURLToPath } from "node:url";

/** The exact bytes that are signed. */
export function payload(method, path, query, body, timestamp) {
  const bodyHash = createHash("sha512").update(body).digest("hex");
  return Buffer.from([method.toUpperCase(), path, query, bodyHash, timestamp].join("\n"), "utf8");
}

/** SIGN for an HMAC_SHA512 key: lowercase hex, keyed with the secret's UTF-8 bytes. */
export function signHmac(secret, message) {
  return createHmac("sha512", Buffer.from(secret, "utf8")).update(message).digest("hex");
}

/** SIGN for an ED25519 key: the base64 signature. */
export function signEd25519(privateKey, message) {
  return sign(null, message, privateKey).toString("base64");
}

/** A fresh key pair: the private KeyObject, and the public key as PEM for createApiKey. */
export function newEd25519Key() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) };
}

/** The KEY, Timestamp and SIGN headers for one request (give { secret } or { privateKey }). */
export function signedHeaders(key, method, path, query, body, { secret, privateKey }) {
  const timestamp = (Date.now() / 1000).toFixed(3); // decimal: two POSTs in a second differ
  const message = payload(method, path, query, body, timestamp);
  const signature = privateKey ? signEd25519(privateKey, message) : signHmac(secret, message);
  return { KEY: key, Timestamp: timestamp, SIGN: signature };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const vector = payload(
    "GET",
    "/api/v4/futures/orders",
    "contract=BTC_USD&status=finished&limit=50",
    "",
    "1541993715",
  );
  const signature = signHmac("secret", vector);
  if (!signature.startsWith("55f84ea195d6fe57ce62464daaa7c3c0")) {
    throw new Error(`test vector mismatch: ${signature}`);
  }
  console.log(signature);
}
