// Small DOM helpers: element builder, status/alert live regions, confirmation dialog, formatting, copy.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;
/** A labelled control: <div><label for=id>Text</label><control id=id></div>. Every input in the UI
 * is made this way; the label sits beside the control so its name is the label alone. */
export function field(labelText, control, { inline = false, hint } = {}) {
  if (!control.id) control.id = `f${++uid}`;
  const lab = h("label", { for: control.id }, labelText);
  const box = h("div", { class: inline ? "field inline" : "field" });
  if (inline) box.append(control, lab); else box.append(lab, control);
  if (hint) {
    const hid = `${control.id}-hint`;
    control.setAttribute("aria-describedby", hid);
    box.append(h("span", { id: hid, class: "muted" }, hint));
  }
  return box;
}

export function select(options, value) {
  const s = h("select");
  for (const o of options) {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    s.append(h("option", { value: v, selected: String(v) === String(value ?? "") }, text));
  }
  return s;
}

let statusTimer;
export function status(message) {
  const el = document.getElementById("status");
  document.getElementById("alert").textContent = "";
  el.textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { el.textContent = ""; }, 4000);
}

export function alertError(err) {
  document.getElementById("status").textContent = "";
  const el = document.getElementById("alert");
  el.textContent = describe(err);
  setTimeout(() => { if (el.textContent === describe(err)) el.textContent = ""; }, 8000);
}

export function describe(err) {
  if (!err) return "";
  if (err.code && err.message) return `${err.message} (${err.code})`;
  return String(err.message || err);
}

/** Ask before a destructive action; resolves true on confirm. Keyboard: Esc cancels, focus on Cancel. */
export function confirmAction(text, { title = "Are you sure?", ok = "Confirm" } = {}) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = ok;
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export const prefs = { timezone: "UTC", page_size: 25, search_mode: "hybrid", theme: "auto" };

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: prefs.timezone }).format(d);
  } catch {
    return d.toISOString();
  }
}

export function stateBadge(state) {
  return h("span", { class: `badge ${state}` }, state);
}

// What the owner's writes through the server are labelled with (memory "app", history "actor");
// they are names, not apps: no rule or pause applies to the owner (caller.py: OWNER_SURFACES).
const SURFACES = { "web-ui": "the owner, through this web UI", "rest-api": "the owner, through the REST API" };

/** An app name as shown: the owner's surfaces say what they are; no app at all is the owner. */
export function appLabel(app) {
  if (!app || app === "owner") return h("span", { class: "muted", title: "the owner (no app)" }, "owner");
  return SURFACES[app] ? h("span", { title: SURFACES[app] }, app) : app;
}

export function chips(cats) {
  return (cats || []).map((c) => h("span", { class: "chip" }, c));
}

/** Copy text to the clipboard (falls back to a hidden textarea); nothing else keeps it (it may hold a token). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h("textarea", { class: "visually-hidden", "aria-hidden": "true" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  status("Copied to the clipboard");
}

export function table(headers, rows, { caption } = {}) {
  return h("div", { class: "table-wrap" }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => (x instanceof Node ? h("th", { scope: "col" }, x) : h("th", { scope: "col" }, x))))),
    h("tbody", {}, rows)));
}

export function empty(text) {
  return h("p", { class: "muted" }, text);
}
