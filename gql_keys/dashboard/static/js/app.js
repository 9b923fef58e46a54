// The dashboard's entry: session, the views by hash (views.js), the layout and the live
// activity feed.
import { gql, session, SESSION_EXPIRED, USER_FIELDS } from "./api.js";
import { LiveActivity, MAX_EVENTS, mergeEvents, recentActivity, watchActivity } from "./activity.js";
import { Brand, CreateAccount, SignIn } from "./auth.js";
import { html, render, useEffect, useState } from "./lib.js";
import { RecoveryCodes, TwoFactorSetup } from "./twofactor.js";
import { Announcer } from "./ui.js";
import { VIEWS, viewFor } from "./views.js";

const VIEWER = `query Viewer { viewer { ${USER_FIELDS} } }`;
const LOGOUT = "mutation Logout { logout { userErrors { message code } } }";
const EXPIRED_NOTICE = "Your session has expired. Sign in again to continue.";
const REFRESH_DEBOUNCE_MS = 800;

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return hash;
}

/**
 * The live feed (the last requests from the usage log first, so it is not empty after
 * signing in) and a counter that moves (debounced) when a key changed or was used.
 */
function useActivity(active) {
  const [events, setEvents] = useState([]);
  const [status, setStatus] = useState("connecting");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    let timer = null;
    let live = true;
    const stop = watchActivity({
      onStatus: setStatus,
      onEvent: (event) => {
        setEvents((old) => mergeEvents([event], old));
        clearTimeout(timer);
        timer = setTimeout(() => setTick((n) => n + 1), REFRESH_DEBOUNCE_MS);
      },
    });
    recentActivity(MAX_EVENTS)
      .then((past) => live && setEvents((old) => mergeEvents(old, past)))
      .catch(() => {}); // the feed still fills as requests arrive
    return () => {
      live = false;
      clearTimeout(timer);
      stop();
      setEvents([]);
      setStatus("connecting");
    };
  }, [active]);
  return { events, status, tick };
}

function SignedIn({ user, onUser, onSignOut }) {
  const hash = useHash();
  const [recoveryCodes, setRecoveryCodes] = useState(null);
  const activity = useActivity(true);
  const { entry, params } = viewFor(hash);
  const section = entry.section ?? entry.name;
  const View = entry.view;
  const enabled = (nextUser, codes) => {
    onUser(nextUser);
    setRecoveryCodes(codes);
  };
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/"><${Brand} /></a>
      <nav aria-label="Account">
        ${VIEWS.filter((v) => v.nav).map((v) => html`<a key=${v.name} href=${v.href}
          aria-current=${v.name === section ? "page" : undefined}>${v.nav}</a>`)}
      </nav>
      <span class="who">${user.email}</span>
      <button type="button" class="quiet" onClick=${onSignOut}>Sign out</button>
    </header>
    <div class="layout">
      <main id="main" tabindex="-1">
        ${recoveryCodes && html`<${RecoveryCodes} codes=${recoveryCodes} onDone=${() => setRecoveryCodes(null)} />`}
        ${!user.twoFactorEnabled && html`<${TwoFactorSetup} onEnabled=${enabled} />`}
        <${View} key=${`${entry.name}:${params.join("/")}`} user=${user} onUser=${onUser}
          activityTick=${activity.tick} params=${params} />
      </main>
      <aside aria-label="Activity"><${LiveActivity} events=${activity.events} status=${activity.status} /></aside>
    </div>
    <${Announcer} />
  </div>`;
}

function App() {
  const hash = useHash();
  const [user, setUser] = useState(undefined); // undefined: still checking the stored session
  const [notice, setNotice] = useState("");

  useEffect(() => {
    const expired = () => {
      setUser(null);
      setNotice(EXPIRED_NOTICE);
      location.hash = "#/";
    };
    addEventListener(SESSION_EXPIRED, expired);
    if (session.token === null) setUser(null);
    else {
      gql(VIEWER)
        .then((data) => {
          if (data.viewer) setUser(data.viewer);
          else {
            session.end();
            expired();
          }
        })
        .catch((e) => {
          setUser(null);
          if (e.code !== "UNAUTHENTICATED") setNotice(e.message);
        });
    }
    return () => removeEventListener(SESSION_EXPIRED, expired);
  }, []);

  const signedIn = (nextUser) => {
    setNotice("");
    setUser(nextUser);
    location.hash = "#/";
  };
  const signOut = async () => {
    try {
      await gql(LOGOUT);
    } catch {
      // The session is gone either way once the token is forgotten below.
    }
    session.end();
    setUser(null);
    setNotice("You have signed out.");
    location.hash = "#/";
  };

  if (user === undefined) return html`<p class="boot" role="status">Loading…</p>`;
  if (user === null) {
    return hash === "#/register"
      ? html`<${CreateAccount} onSignedIn=${signedIn} />`
      : html`<${SignIn} onSignedIn=${signedIn} notice=${notice} />`;
  }
  return html`<${SignedIn} user=${user} onUser=${setUser} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
