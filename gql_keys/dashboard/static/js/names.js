// Words for the API's enums: a person reads "Address not allowed", never IP_NOT_ALLOWED
// alone. Operators still see the code beside the words where they act on it (logs, feed).

/** "PENDING_CHANGE" -> "Pending change": the fallback for a value this page does not know yet. */
const humanize = (value) => {
  const words = String(value).toLowerCase().replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

const named = (table) => (value) => table[value] ?? humanize(value);

export const statusName = named({
  ACTIVE: "Active",
  EXPIRED: "Expired",
  DELETED: "Deleted",
  QUARANTINED: "Quarantined",
});

/** What a verification code means, in a few words. */
export const codeName = named({
  VALID: "Allowed",
  KEY_NOT_FOUND: "Unknown key",
  KEY_EXPIRED: "Key expired",
  KEY_DELETED: "Key deleted",
  IP_NOT_ALLOWED: "Address not allowed",
  SCOPE_NOT_GRANTED: "Permission not granted",
  INVALID_SIGNATURE: "Bad signature",
  TIMESTAMP_OUT_OF_WINDOW: "Clock out of range",
  REPLAYED: "Replayed request",
  RATE_LIMITED: "Rate limited",
  KEY_QUARANTINED: "Key quarantined",
  CANARY_TRIPPED: "Canary tripped",
  ACCOUNT_LOCKED: "Sub-account locked",
});

export const VERIFICATION_CODES = ["VALID", "KEY_NOT_FOUND", "KEY_EXPIRED", "KEY_DELETED",
  "IP_NOT_ALLOWED", "SCOPE_NOT_GRANTED", "INVALID_SIGNATURE", "TIMESTAMP_OUT_OF_WINDOW",
  "REPLAYED", "RATE_LIMITED", "KEY_QUARANTINED", "CANARY_TRIPPED", "ACCOUNT_LOCKED"];

export const algorithmName = named({ HMAC_SHA512: "HMAC-SHA512", ED25519: "Ed25519" });

/** A live activity event, as the feed says it. */
export const activityName = named({
  KEY_USED: "Allowed",
  KEY_DENIED: "Denied",
  KEY_CREATED: "Key created",
  KEY_DELETED: "Key deleted",
  KEY_UPDATED: "Key changed",
  KEY_ROLLED: "Secret rolled",
  KEY_EXPIRING: "Expires within 7 days",
  TWO_FACTOR_FAILED: "Wrong authenticator code",
  KEY_QUARANTINED: "Key quarantined",
  KEY_RELEASED: "Released from quarantine",
  CANARY_TRIPPED: "Canary tripped",
  KEY_CHANGE_PENDING: "Change pending",
  KEY_CHANGE_CANCELLED: "Pending change cancelled",
});

/** A security log entry, as the Security view says it. */
export const securityEventName = named({
  LOGIN_SUCCEEDED: "Signed in",
  LOGIN_FAILED: "Failed sign-in",
  LOGOUT: "Signed out",
  PASSWORD_CHANGED: "Password changed",
  SESSION_REVOKED: "Session revoked",
  TWO_FACTOR_ENABLED: "Two-factor turned on",
  TWO_FACTOR_DISABLED: "Two-factor turned off",
  TWO_FACTOR_FAILED: "Wrong authenticator code",
  RECOVERY_CODE_USED: "Recovery code used",
  RECOVERY_CODES_REGENERATED: "Recovery codes regenerated",
  KEY_CREATED: "Key created",
  KEY_UPDATED: "Key changed",
  KEY_ROLLED: "Key secret rolled",
  KEY_DELETED: "Key deleted",
  KEY_QUARANTINED: "Key quarantined",
  KEY_RELEASED: "Key released from quarantine",
  CANARY_TRIPPED: "Canary key tripped",
  KEY_CHANGE_PENDING: "Key change pending",
  KEY_CHANGE_CANCELLED: "Pending key change cancelled",
});

/** Why a key is quarantined, as a sentence's end: "Quarantined: …". */
export const quarantineReasonName = named({
  LEAK_REPORTED: "a leak of its secret was reported",
  OWNER: "you quarantined it",
});

/** The scopes a pending change adds (what the key does not hold yet). */
export const pendingScopes = (apiKey) =>
  apiKey.pendingChange ? apiKey.pendingChange.scopes.filter((s) => !apiKey.scopes.includes(s)) : [];

/** A scope by its ScopeInfo.title (the catalog the server sends). */
export const scopeTitle = (catalog, scope) => catalog.find((s) => s.scope === scope)?.title ?? humanize(scope);

const weight = (scope) => (scope === "WITHDRAW" ? 0 : scope.endsWith("_WRITE") ? 1 : 2);

/** The scopes worth showing, riskiest first: a WRITE already includes the READ of its area. */
export function headlineScopes(scopes) {
  const set = new Set(scopes);
  return scopes
    .filter((s) => !(s.endsWith("_READ") && set.has(s.replace(/_READ$/, "_WRITE"))))
    .sort((a, b) => weight(a) - weight(b));
}
