// The view layer: Preact with htm tagged templates (no build step), re-exported in one place.
import { h, render, Fragment } from "../vendor/preact/preact.mjs";
import { useCallback, useEffect, useMemo, useRef, useState } from "../vendor/preact/hooks.mjs";
import htm from "../vendor/htm/htm.mjs";

export const html = htm.bind(h);
export { render, Fragment, useCallback, useEffect, useMemo, useRef, useState };
