// The signed-in views, one module each. A new view (sub-accounts, notifications, …) adds its
// module and one entry here: `match` picks it from the location hash (its groups become
// `params`), `nav` gives it a link in the top bar, `section` names the link a sub-view lives
// under. Every view gets the same props: { user, onUser, activityTick, params }.
import { KeyPage } from "./key-page.js";
import { DeletedKeysPage, KeysPage } from "./keys.js";
import { NotificationsPage } from "./notifications.js";
import { SecurityPage } from "./security.js";
import { SubAccountPage, SubAccountsPage } from "./sub-accounts.js";
import { UsagePage } from "./usage.js";

export const VIEWS = [
  { name: "keys", nav: "API keys", href: "#/", match: /^(?:#\/?)?$/, view: KeysPage },
  { name: "deleted-keys", section: "keys", match: /^#\/keys\/deleted$/, view: DeletedKeysPage },
  { name: "key", section: "keys", match: /^#\/keys\/([^/]+)$/, view: KeyPage },
  { name: "sub-accounts", nav: "Sub-accounts", href: "#/sub-accounts", match: /^#\/sub-accounts$/, view: SubAccountsPage },
  { name: "sub-account", section: "sub-accounts", match: /^#\/sub-accounts\/([^/]+)$/, view: SubAccountPage },
  { name: "usage", nav: "Usage", href: "#/usage", match: /^#\/usage$/, view: UsagePage },
  { name: "sub-account-usage", section: "usage", match: /^#\/usage\/sub-accounts\/([^/]+)$/, view: UsagePage },
  { name: "security", nav: "Security", href: "#/security", match: /^#\/security$/, view: SecurityPage },
  { name: "notifications", nav: "Notifications", href: "#/notifications", match: /^#\/notifications$/, view: NotificationsPage },
];

const decoded = (part) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a malformed escape names nothing: the view says "not found"
  }
};

/** The view for `hash` and its params; API keys for anything unknown. */
export function viewFor(hash) {
  for (const entry of VIEWS) {
    const found = entry.match.exec(hash);
    if (found) return { entry, params: found.slice(1).map(decoded) };
  }
  return { entry: VIEWS[0], params: [] };
}
