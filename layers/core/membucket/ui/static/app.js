// The shell: who is signed in, the hash router (#/page/arg), theme and preferences.
import { api, session } from "./api.js";
import { alertError, field, h, prefs } from "./dom.js";
import { dashboardPage } from "./pages/dashboard.js";
import { memoriesPage, memoryPage } from "./pages/memories.js";
import { appsPage, appPage } from "./pages/apps.js";
import { connectPage } from "./pages/connect.js";
import { settingsPage } from "./pages/settings.js";
import { transferPage } from "./pages/transfer.js";

export const ctx = { me: null };

const ROUTES = {
  dashboard: dashboardPage,
  memories: (arg) => (arg ? memoryPage(arg) : memoriesPage()),
  apps: (arg) => (arg ? appPage(arg) : appsPage()),
  connect: connectPage,
  settings: settingsPage,
  transfer: transferPage,
};
const TITLES = { dashboard: "Dashboard", memories: "Memories", apps: "Apps", connect: "Connect", settings: "Settings", transfer: "Export / import" };

const main = () => document.getElementById("main");

export function applyPrefs(p) {
  Object.assign(prefs, p);
  if (prefs.theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.dataset.theme = prefs.theme;
}

async function whoAmI() {
  try {
    ctx.me = await api("/me");
    return true;
  } catch (err) {
    if (err.status === 401) return false;
    throw err;
  }
}

function signInPage(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("who").replaceChildren();
  const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false", placeholder: "mb_…" });
  const err = h("p", { class: "error-text", id: "signin-error", role: "alert" }, message || "");
  const form = h("form", { class: "panel signin stack", "aria-labelledby": "signin-title", onsubmit: async (e) => {
    e.preventDefault();
    session.set(input.value.trim());
    let ok = false;
    try {
      ok = await whoAmI();
      err.textContent = ok ? "" : "That token was not accepted (invalid, revoked or expired).";
    } catch (e) {
      err.textContent = `That token cannot be used here: ${e.message}`;
    }
    if (ok) return start();
    session.clear();
    input.focus();
  } },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { class: "muted" }, "This server requires a token. Create one with ", h("code", {}, "membucket token create --scope admin"),
      " (admin scope for managing apps, tokens and settings). It is kept only in this tab (sessionStorage)."),
    field("Access token", input),
    err,
    h("div", { class: "row end" }, h("button", { type: "submit" }, "Sign in")));
  main().replaceChildren(form);
  document.title = "Sign in · membucket";
  input.focus();
}

function renderWho() {
  const me = ctx.me;
  const who = document.getElementById("who");
  const parts = [h("span", {}, "User ", h("strong", {}, me.user), me.app ? ` · app ${me.app}` : "", ` · ${me.scopes.join(", ")}`)];
  if (me.auth_required) {
    parts.push(h("button", { class: "secondary small", type: "button", onclick: () => { session.clear(); ctx.me = null; signInPage("Signed out."); } }, "Sign out"));
  } else {
    parts.push(h("span", { class: "badge" }, "auth off (loopback)"));
  }
  who.replaceChildren(...parts);
  if (!me.auth_required) userSwitch(who).catch(alertError);
}

// Auth off: memories written through /mcp/<client>/http/<user> live in <user>; let the UI switch to them.
async function userSwitch(who) {
  const users = await api("/users");
  if (!users.switchable || users.items.length < 2) return;
  const select = h("select", { id: "user-switch", "aria-label": "Act as user", class: "small" },
    ...users.items.map((u) => h("option", { value: u, selected: u === users.current }, u)));
  select.addEventListener("change", async () => {
    session.setUser(select.value);
    ctx.me = await api("/me");
    renderWho();
    await route();
  });
  who.append(h("label", { class: "small" }, "Switch user ", select));
}

async function route() {
  if (!ctx.me) return;
  const [name = "dashboard", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = ROUTES[name] ? name : "dashboard";
  let arg = rest.length ? rest.join("/") : undefined;
  try { if (arg !== undefined) arg = decodeURIComponent(arg); } catch { /* malformed %-escape: the page shows it is not found */ }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${page}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = `${TITLES[page]} · membucket`;
  const m = main();
  m.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const content = await ROUTES[page](arg);
    m.replaceChildren(content);
    m.dataset.page = page;
  } catch (err) {
    m.replaceChildren(h("div", { class: "panel" }, h("h1", {}, TITLES[page]), h("p", { class: "error-text" }, String(err.message || err))));
    m.dataset.page = page;
    alertError(err);
  }
  // After a navigation, focus the new content (screen readers announce it); not on first load,
  // where Tab should reach the skip link first.
  if (routed) m.focus({ preventScroll: true });
  routed = true;
}
let routed = false;

async function start() {
  if (!(await whoAmI())) return signInPage();
  try { applyPrefs(await api("/preferences")); } catch { /* defaults */ }
  document.getElementById("nav").hidden = false;
  renderWho();
  await route();
}

// An in-page anchor (the skip link's #main) is not a route: stay on the page, the browser moves focus.
window.addEventListener("hashchange", () => (location.hash && !location.hash.startsWith("#/") ? undefined : route()));
window.addEventListener("membucket:unauthorized", () => {
  if (ctx.me && ctx.me.auth_required) { session.clear(); ctx.me = null; signInPage("Your session ended: the token is no longer accepted."); }
});
start().catch((err) => {
  if (err.status === 403 && session.token) return signInPage(`This token cannot be used here: ${err.message}`);
  main().replaceChildren(h("p", { class: "error-text" }, "Could not reach the server: " + (err.message || err)));
});
