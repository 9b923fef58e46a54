// User agents as people say them ("Firefox 133 on Windows"), by ua-parser-js, which loads
// with the first view that needs it. The full string stays available on hover.
import { html, useEffect, useState } from "./lib.js";

let parser = null;
const loadParser = () => {
  parser ??= import("../vendor/ua-parser-js/ua-parser.mjs").then(({ UAParser }) => UAParser);
  return parser;
};

const OS_NAMES = { "Mac OS": "macOS", "Chromium OS": "ChromeOS" };

/** "Chrome 131 on macOS"; a client that is not a browser by its own first word ("curl 8.5.0"). */
export function describeAgent(UAParser, agent) {
  const { browser, os } = new UAParser(agent).getResult();
  const system = os.name ? ` on ${OS_NAMES[os.name] ?? os.name}` : "";
  if (browser.name) return `${browser.name}${browser.major ? ` ${browser.major}` : ""}${system}`;
  const product = /^([\w.-]+)\/([\w.]+)/.exec(agent);
  if (product && product[1] !== "Mozilla") return `${product[1]} ${product[2]}${system}`;
  return system ? `Unknown browser${system}` : "Unknown client";
}

/** The parser once loaded (null until then). */
export function useAgentParser() {
  const [UAParser, setParser] = useState(null);
  useEffect(() => {
    let live = true;
    loadParser().then((loaded) => live && setParser(() => loaded));
    return () => { live = false; };
  }, []);
  return UAParser;
}

/** A user agent in words, the full string as its tooltip. */
export function Agent({ agent, parser }) {
  if (!agent) return html`<span class="muted">—</span>`;
  return html`<span class="agent-name" title=${agent}>${parser ? describeAgent(parser, agent) : ""}</span>`;
}
