// Settings: per-user preferences (saved in the bucket) and the server's effective configuration (read-only).
import { api } from "../api.js";
import { applyPrefs, ctx } from "../app.js";
import { alertError, field, fmtTime, h, select, status } from "../dom.js";
import { resetMemoryView } from "./memories.js";

function zones() {
  try { return Intl.supportedValuesOf("timeZone"); } catch { return ["UTC"]; }
}

export async function settingsPage() {
  const [prefs, config] = await Promise.all([api("/preferences"), api("/config").catch((err) => ({ __error: err }))]);
  const mode = select([["hybrid", "Hybrid (semantic + words)"], ["dense", "Semantic"], ["lexical", "Keywords (BM25)"]], prefs.search_mode);
  const size = h("input", { type: "number", name: "page_size", min: 5, max: 200, step: 1, value: String(prefs.page_size), required: true });
  const tz = h("input", { name: "timezone", list: "tz-list", value: prefs.timezone, required: true, maxlength: 64 });
  const theme = select([["auto", "Follow the system"], ["light", "Light"], ["dark", "Dark"]], prefs.theme);
  const saved = h("p", { class: "muted", id: "prefs-saved" }, prefs.updated_at ? `Last saved ${fmtTime(prefs.updated_at)}` : "Defaults (never saved)");
  const form = h("form", { class: "panel stack", "aria-label": "Preferences", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const out = await api("/preferences", { method: "PUT", body: { search_mode: mode.value, page_size: Number(size.value), timezone: tz.value.trim(), theme: theme.value } });
      applyPrefs(out);
      resetMemoryView();
      saved.textContent = `Last saved ${fmtTime(out.updated_at)}`;
      status("Preferences saved");
    } catch (err) { alertError(err); }
  } },
    h("h2", {}, "Your preferences"),
    h("p", { class: "muted" }, "Stored with your memory in the bucket, so they follow you to any browser."),
    h("div", { class: "row" }, field("Default search mode", mode), field("Memories per page", size), field("Time zone", tz), field("Theme", theme)),
    h("datalist", { id: "tz-list" }, zones().map((z) => h("option", { value: z }))),
    h("div", { class: "row end" }, saved, h("button", { type: "submit" }, "Save preferences")));
  const me = ctx.me;
  let cfg;
  if (config.__error) {
    cfg = h("p", { class: "muted" }, `The server configuration needs an admin token (${config.__error.message}).`);
  } else {
    cfg = h("dl", { class: "kv", id: "config" }, Object.entries(config).sort(([a], [b]) => a.localeCompare(b)).flatMap(([k, v]) => [
      h("dt", {}, k), h("dd", {}, v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v))]));
  }
  return h("div", {},
    h("h1", {}, "Settings"),
    form,
    h("section", { class: "panel", "aria-label": "Signed in as" }, h("h2", {}, "Signed in as"),
      h("dl", { class: "kv" }, h("dt", {}, "User"), h("dd", {}, me.user), h("dt", {}, "App"), h("dd", {}, me.app || "none (owner)"),
        h("dt", {}, "Scopes"), h("dd", {}, me.scopes.join(", ")), h("dt", {}, "Authentication"), h("dd", {}, me.auth_required ? "bearer token" : "off (loopback)"))),
    h("section", { class: "panel", "aria-label": "Server configuration" }, h("h2", {}, "Server configuration (read-only)"),
      h("p", { class: "muted" }, "Set with MEMBUCKET_* environment variables or the config file; secrets are masked. See ", h("a", { href: "/docs" }, "the API docs"), "."),
      cfg));
}
