// Apps: pause/resume, what each app created and read, and the allow/deny rule editor.
import { api } from "../api.js";
import { alertError, chips, confirmAction, empty, field, fmtTime, h, select, stateBadge, status, table } from "../dom.js";

const rerender = async (fn) => document.getElementById("main").replaceChildren(await fn());

async function setPaused(name, paused) {
  try {
    await api(`/apps/${encodeURIComponent(name)}/${paused ? "pause" : "resume"}`, { method: "POST" });
    status(`${name} ${paused ? "paused: it can neither read nor write" : "resumed"}`);
  } catch (err) { alertError(err); }
}

function describeRule(r) {
  const what = r.scope === "all" ? "all memories" : r.scope === "category" ? `category “${r.target}”` : `memory ${r.target}`;
  return `${r.effect === "allow" ? "Allow" : "Deny"} ${what}`;
}

function rulesTable(rules, reload) {
  if (!rules.length) return empty("No rules: the app sees every memory (unless paused).");
  return table(["Rule", "Applies to", "Created", ""], rules.map((r) => h("tr", {},
    h("td", {}, h("span", { class: `badge ${r.effect === "allow" ? "active" : "deleted"}` }, r.effect), " ", describeRule(r)),
    h("td", {}, r.app === "*" ? "every app" : r.app), h("td", {}, fmtTime(r.created_at)),
    h("td", {}, h("button", { type: "button", class: "secondary small", "aria-label": `Delete rule: ${describeRule(r)} for ${r.app}`, onclick: async () => {
      if (!(await confirmAction(`Delete the rule “${describeRule(r)}” for ${r.app === "*" ? "every app" : r.app}?`, { title: "Delete rule", ok: "Delete" }))) return;
      try { await api(`/rules/${r.id}`, { method: "DELETE" }); status("Rule deleted"); await reload(); } catch (err) { alertError(err); }
    } }, "Delete")))), { caption: "Access rules" });
}

function ruleForm(app, categories, reload) {
  const who = app ? null : h("input", { name: "app", required: true, value: "*", maxlength: 64 });
  const effect = select([["deny", "Deny"], ["allow", "Allow"]], "deny");
  const scope = select([["all", "All memories"], ["category", "A category"], ["memory", "One memory (id)"]], "all");
  const target = h("input", { name: "target", list: "rule-categories", maxlength: 64, disabled: true });
  const dl = h("datalist", { id: "rule-categories" }, categories.map((c) => h("option", { value: c })));
  scope.addEventListener("change", () => { target.disabled = scope.value === "all"; target.required = scope.value !== "all"; });
  return h("form", { class: "stack", "aria-label": "Add a rule", onsubmit: async (e) => {
    e.preventDefault();
    const body = { app: app || who.value.trim(), effect: effect.value, scope: scope.value };
    if (scope.value !== "all") body.target = target.value.trim();
    try { await api("/rules", { method: "POST", body }); status("Rule added"); await reload(); } catch (err) { alertError(err); }
  } },
    h("h3", {}, "Add a rule"),
    h("p", { class: "muted" }, "Deny wins over allow. An app with any allow rule sees only what its allow rules match. A deny-all rule shuts the app out entirely."),
    h("div", { class: "row" }, who ? field("App (or * for every app)", who) : null, field("Effect", effect), field("Scope", scope),
      field("Category or memory id", target), dl, h("button", { type: "submit" }, "Add rule")));
}

export async function appsPage() {
  const [apps, rules, cats] = await Promise.all([api("/apps"), api("/rules"), api("/categories")]);
  const reload = () => rerender(appsPage);
  return h("div", {},
    h("h1", {}, "Apps"),
    h("section", { class: "panel", "aria-label": "Apps" }, h("h2", {}, "Connected apps"),
      apps.items.length ? table(["App", "Status", "Memories", "First seen", ""], apps.items.map((a) => h("tr", { dataset: { app: a.name } },
        h("td", {}, h("a", { href: `#/apps/${encodeURIComponent(a.name)}` }, a.name)),
        h("td", {}, h("span", { class: `badge ${a.paused ? "paused" : "active"}` }, a.paused ? "paused" : "active")),
        h("td", {}, String(a.memories)), h("td", {}, fmtTime(a.created_at)),
        h("td", {}, h("button", { type: "button", class: a.paused ? "small" : "secondary small", "aria-label": `${a.paused ? "Resume" : "Pause"} ${a.name}`,
          onclick: async () => { await setPaused(a.name, !a.paused); await reload(); } }, a.paused ? "Resume" : "Pause")))), { caption: "Apps" })
        : empty("No app has connected yet. See Connect to set one up.")),
    h("section", { class: "panel", "aria-label": "Access rules" }, h("h2", {}, "Access rules (all apps)"),
      rulesTable(rules.items, reload), ruleForm(null, cats.items.map((c) => c.name), reload)));
}

export async function appPage(name) {
  const enc = encodeURIComponent(name);
  const [app, mems, access, rules, cats] = await Promise.all([
    api(`/apps/${enc}`), api(`/apps/${enc}/memories`, { query: { size: 50 } }), api(`/apps/${enc}/access`, { query: { limit: 50 } }),
    api("/rules", { query: { app: name } }), api("/categories"),
  ]);
  const reload = () => rerender(() => appPage(name));
  return h("div", {},
    h("p", {}, h("a", { href: "#/apps" }, "← All apps")),
    h("h1", {}, `App: ${app.name} `, h("span", { class: `badge ${app.paused ? "paused" : "active"}` }, app.paused ? "paused" : "active")),
    h("div", { class: "row" },
      h("button", { type: "button", class: app.paused ? "" : "danger", onclick: async () => {
        if (!app.paused && !(await confirmAction(`Pause ${app.name}? It will be refused every read and write until resumed.`, { title: "Pause app", ok: "Pause" }))) return;
        await setPaused(app.name, !app.paused); await reload();
      } }, app.paused ? "Resume app" : "Pause app")),
    h("section", { class: "panel", "aria-label": "Rules for this app" }, h("h2", {}, "Rules that apply"),
      rulesTable(rules.items, reload), ruleForm(app.name, cats.items.map((c) => c.name), reload)),
    h("div", { class: "grid" },
      h("section", { class: "panel", "aria-label": "Memories it created" }, h("h2", {}, `Memories it created (${mems.total})`),
        mems.items.length ? table(["Memory", "Categories", "State"], mems.items.map((m) => h("tr", {},
          h("td", { class: "text" }, h("a", { href: `#/memories/${m.id}` }, m.text)), h("td", {}, chips(m.categories)), h("td", {}, stateBadge(m.state)))),
        { caption: "Memories" }) : empty("None.")),
      h("section", { class: "panel", "aria-label": "What it read" }, h("h2", {}, "What it read"),
        access.items.length ? table(["Memory", "How", "Query", "When"], access.items.map((r) => h("tr", {},
          h("td", {}, h("a", { href: `#/memories/${r.memory_id}` }, r.memory_id.slice(0, 8))), h("td", {}, r.op),
          h("td", {}, r.query || ""), h("td", {}, fmtTime(r.at)))), { caption: "Access log" }) : empty("It has not read anything yet."))));
}
