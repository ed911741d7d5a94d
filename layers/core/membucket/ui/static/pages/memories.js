// Memories: search (semantic, hybrid, keyword, text contains), filters, sort, pages, bulk state
// changes with confirmation, add; and the detail page (edit, categories, history, access, related).
import { api } from "../api.js";
import { alertError, appLabel, chips, confirmAction, empty, field, fmtTime, h, prefs, select, stateBadge, status, table } from "../dom.js";

const STATES = ["active", "paused", "archived", "deleted"];
const ACTIONS = [["pause", "Pause"], ["archive", "Archive"], ["resume", "Resume"], ["delete", "Delete"]];
// The state each action leads to: on one memory, the action that would change nothing is disabled.
const TARGET = { pause: "paused", archive: "archived", resume: "active", delete: "deleted" };
const MODES = [["dense", "Semantic"], ["hybrid", "Hybrid (semantic + words)"], ["lexical", "Keywords (BM25)"], ["text", "Text contains"]];

const view = { query: "", mode: null, app: "", category: "", state: "", after: "", before: "", sort: "created_at", order: "desc", page: 1, weak: false };
// Search scores run 0..1 in every mode (dense: the cosine; hybrid: cosine + word and context
// bonuses; keywords: BM25 relative to the best hit). Below this a hit is rarely what was asked for
// (all-MiniLM-L6-v2: unrelated sentences score about 0.0-0.2, answers 0.45+), so it is hidden
// unless "Show weaker matches" is on.
export const MIN_SCORE = 0.2;

/** Saved preferences changed: the next visit starts from the new default search mode. */
export function resetMemoryView() { view.mode = null; view.page = 1; }

const splitCats = (s) => s.split(",").map((c) => c.trim()).filter(Boolean);
const dayStart = (d) => (d ? `${d}T00:00:00Z` : undefined);
const dayEnd = (d) => (d ? new Date(Date.parse(`${d}T00:00:00Z`) + 86400000).toISOString() : undefined);

export async function memoriesPage() {
  if (!view.mode) view.mode = prefs.search_mode || "hybrid";
  const [apps, cats] = await Promise.all([api("/apps").catch(() => ({ items: [] })), api("/categories").catch(() => ({ items: [] }))]);
  const root = h("div", {});
  const results = h("section", { class: "panel", id: "results", "aria-label": "Memories", "aria-busy": "false" });

  // Add
  const addText = h("textarea", { name: "text", required: true, maxlength: 100000 });
  const addCats = h("input", { name: "categories", placeholder: "e.g. work, health" });
  const addForm = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const body = { text: addText.value };
      if (addCats.value.trim()) body.categories = splitCats(addCats.value);
      const r = await api("/memories", { method: "POST", body });
      const ev = r.results[0];
      status(ev ? `Memory ${ev.event === "ADD" ? (ev.similar && ev.similar.length ? `added (similar to ${ev.similar.length} existing)` : "added") : ev.event === "UPDATE" ? "updated (near duplicate)" : "already stored"}` : "Nothing stored");
      addText.value = ""; addCats.value = "";
      await load();
    } catch (err) { alertError(err); }
  } }, field("Memory text", addText), field("Categories (comma-separated, optional)", addCats),
    h("div", { class: "row end" }, h("button", { type: "submit" }, "Add memory")));
  const addBox = h("details", { class: "panel" }, h("summary", {}, "Add a memory"), addForm);

  // Search and filters
  const q = h("input", { type: "search", name: "q", value: view.query, placeholder: "What do you want to find?" });
  const mode = select(MODES, view.mode);
  const app = select([["", "All apps"], ...apps.items.map((a) => [a.name, a.name]),
    ["web-ui", "web-ui (you, in this UI)"], ["rest-api", "rest-api (you, by the REST API)"]], view.app);
  const cat = select([["", "All categories"], ...cats.items.map((c) => [c.name, `${c.name} (${c.count})`])], view.category);
  const state = select([["", "All but deleted"], ...STATES.map((s) => [s, s])], view.state);
  const after = h("input", { type: "date", name: "after", value: view.after });
  const before = h("input", { type: "date", name: "before", value: view.before });
  const sort = select([["created_at", "Created"], ["updated_at", "Updated"], ["text", "Text"], ["app", "App"], ["state", "State"]], view.sort);
  const order = select([["desc", "Newest / Z first"], ["asc", "Oldest / A first"]], view.order);
  const form = h("form", { class: "panel stack", role: "search", "aria-label": "Search and filter memories", onsubmit: (e) => {
    e.preventDefault();
    Object.assign(view, { query: q.value.trim(), mode: mode.value, app: app.value, category: cat.value, state: state.value,
      after: after.value, before: before.value, sort: sort.value, order: order.value, page: 1, weak: false });
    load();
  } },
    h("div", { class: "row" }, h("div", { class: "grow" }, field("Search memories", q)), field("Search mode", mode),
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "secondary", onclick: () => {
        Object.assign(view, { query: "", app: "", category: "", state: "", after: "", before: "", page: 1 });
        q.value = ""; app.value = ""; cat.value = ""; state.value = ""; after.value = ""; before.value = ""; load();
      } }, "Clear")),
    h("div", { class: "row" }, field("App", app), field("Category", cat), field("State", state),
      field("Created from", after), field("Created until", before), field("Sort by", sort), field("Order", order)));

  async function load() {
    results.setAttribute("aria-busy", "true");
    try {
      results.replaceChildren(await renderResults());
    } catch (err) {
      results.replaceChildren(h("p", { class: "error-text" }, err.message));
      alertError(err);
    }
    results.setAttribute("aria-busy", "false");
  }

  async function renderResults() {
    const semantic = view.query && view.mode !== "text";
    let items, page = null, weak = [];
    if (semantic) {
      const filters = {};
      if (view.app) filters.apps = [view.app];
      if (view.category) filters.categories = [view.category];
      if (view.after) filters.created_after = dayStart(view.after);
      if (view.before) filters.created_before = dayEnd(view.before);
      const r = await api("/memories/search", { method: "POST", body: { query: view.query, mode: view.mode, limit: Math.min(prefs.page_size, 100), filters } });
      items = r.items.map((x) => ({ ...x, state: "active" }));
      weak = items.filter((x) => x.score < MIN_SCORE);
      if (!view.weak) items = items.filter((x) => x.score >= MIN_SCORE);
    } else {
      page = await api("/memories", { query: {
        q: view.query || undefined, app: view.app, category: view.category, state: view.state,
        created_after: dayStart(view.after), created_before: dayEnd(view.before),
        sort: view.sort, order: view.order, page: view.page, size: prefs.page_size,
      } });
      items = page.items;
    }
    const selected = new Set();
    const count = h("span", { class: "muted", "aria-live": "polite" }, "0 selected");
    const bulkButtons = ACTIONS.map(([action, label]) => h("button", { type: "button", class: action === "delete" ? "danger small" : "secondary small",
      disabled: true, dataset: { action }, onclick: () => bulk(action, label) }, label));
    const refresh = () => {
      count.textContent = `${selected.size} selected`;
      for (const b of bulkButtons) b.disabled = selected.size === 0;
    };
    async function bulk(action, label) {
      const ids = [...selected];
      const ok = await confirmAction(`${label} ${ids.length} ${ids.length === 1 ? "memory" : "memories"}?` +
        (action === "delete" ? " Deleted memories are no longer searchable by anyone; their history is kept." : ""),
        { title: `${label} memories`, ok: label });
      if (!ok) return;
      try {
        const r = action === "delete"
          ? await api("/memories/delete", { method: "POST", body: { ids } })
          : await api("/memories/state", { method: "POST", body: { ids, action } });
        status(`${r.changed.length} changed to ${r.state}${r.unchanged.length ? `, ${r.unchanged.length} already ${r.state}` : ""}`);
        await load();
      } catch (err) { alertError(err); }
    }
    const all = h("input", { type: "checkbox", "aria-label": "Select all on this page", onchange: (e) => {
      for (const box of body.querySelectorAll("input[data-id]")) { box.checked = e.target.checked; box.dispatchEvent(new Event("change")); }
    } });
    const rows = items.map((x) => {
      const box = h("input", { type: "checkbox", dataset: { id: x.id }, "aria-label": `Select: ${x.text.slice(0, 60)}`, onchange: (e) => {
        if (e.target.checked) selected.add(x.id); else selected.delete(x.id);
        refresh();
      } });
      return h("tr", { dataset: { id: x.id } },
        h("td", {}, box),
        h("td", { class: "text" }, h("a", { href: `#/memories/${x.id}` }, x.text)),
        h("td", {}, appLabel(x.app)),
        h("td", {}, chips(x.categories)),
        h("td", {}, semantic ? h("span", { title: "score" }, x.score.toFixed(3)) : stateBadge(x.state)),
        h("td", { class: "hide-sm" }, fmtTime(x.created_at)));
    });
    const body = table([all, "Memory", "App", "Categories", semantic ? "Score" : "State", "Created"], rows, { caption: "Memories" });
    const heading = semantic
      ? `${items.length} best ${items.length === 1 ? "match" : "matches"} for “${view.query}” (active memories only)`
      : `${page.total} ${page.total === 1 ? "memory" : "memories"}`;
    const out = [h("h2", {}, heading)];
    if (weak.length) {
      const n = `${weak.length} weaker ${weak.length === 1 ? "match" : "matches"} (score below ${MIN_SCORE.toFixed(2)})`;
      out.push(h("p", { class: "muted", id: "weak-matches" }, view.weak ? `Including ${n}. ` : `${n} hidden. `,
        h("button", { type: "button", class: "secondary small", onclick: () => { view.weak = !view.weak; load(); } },
          view.weak ? "Hide weaker matches" : "Show weaker matches")));
    }
    out.push(h("div", { class: "bulk", role: "group", "aria-label": "Bulk actions" }, count, bulkButtons));
    out.push(items.length ? body : empty(semantic ? (weak.length ? "No strong match." : "No active memory matches.") : "No memories match these filters."));
    if (page && page.pages > 1) {
      const go = (p) => { view.page = p; load(); };
      out.push(h("nav", { class: "pager", "aria-label": "Pages" },
        h("button", { type: "button", class: "secondary small", disabled: page.page <= 1, onclick: () => go(page.page - 1) }, "Previous"),
        h("span", {}, `Page ${page.page} of ${page.pages}`),
        h("button", { type: "button", class: "secondary small", disabled: page.page >= page.pages, onclick: () => go(page.page + 1) }, "Next")));
    }
    return h("div", {}, out);
  }

  root.append(h("h1", {}, "Memories"), form, addBox, results);
  await load();
  return root;
}

function historyList(items) {
  if (!items.length) return empty("No history.");
  const what = (e) => {
    if (e.event === "add") return `Added${e.new_state && e.new_state !== "active" ? ` as ${e.new_state}` : ""}`;
    if (e.event === "state") return `State ${e.old_state} → ${e.new_state}`;
    if (e.event === "update") return "Text edited";
    return e.event;
  };
  return h("ol", { class: "timeline", id: "history" }, items.map((e) => h("li", { dataset: { event: e.event } },
    h("div", {}, h("strong", {}, what(e)), " by ", appLabel(e.actor)),
    e.event === "update" && e.old_text !== null ? h("div", { class: "muted" }, `was: “${e.old_text}”`) : null,
    h("div", { class: "when" }, `${fmtTime(e.at)} · seq ${e.seq}`))));
}

function memoryRules(id, rules, apps) {
  const mine = rules.filter((r) => r.scope === "memory" && r.target === id);
  const reload = async () => document.getElementById("main").replaceChildren(await memoryPage(id));
  const app = select([["*", "Every app"], ...apps.map((a) => [a.name, a.name])], "*");
  const effect = select([["deny", "Hide it from"], ["allow", "Allow it for"]], "deny");
  return h("section", { class: "panel", "aria-label": "Access to this memory", id: "memory-rules" }, h("h2", {}, "Which apps may see it"),
    mine.length ? h("ul", {}, mine.map((r) => h("li", {}, `${r.effect === "deny" ? "Hidden from" : "Allowed for"} ${r.app === "*" ? "every app" : r.app} `,
      h("button", { type: "button", class: "secondary small", "aria-label": `Remove rule: ${r.effect} ${r.app}`, onclick: async () => {
        try { await api(`/rules/${r.id}`, { method: "DELETE" }); status("Rule removed"); await reload(); } catch (err) { alertError(err); }
      } }, "Remove"))))
      : h("p", { class: "muted" }, "No rule names this memory: apps see it unless a category or app-wide rule says otherwise."),
    h("form", { class: "row", "aria-label": "Add a rule for this memory", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("/rules", { method: "POST", body: { app: app.value, effect: effect.value, scope: "memory", target: id } });
        status("Rule added"); await reload();
      } catch (err) { alertError(err); }
    } }, field("Rule", effect), field("App", app), h("button", { type: "submit" }, "Add rule")),
    h("p", { class: "muted" }, "Note: an app with any allow rule sees only what its allow rules match."));
}

export async function memoryPage(id) {
  const enc = encodeURIComponent(id); // the id comes from the URL: "../tokens" must stay one path segment
  const [m, hist, access, related, rules, apps] = await Promise.all([
    api(`/memories/${enc}`), api(`/memories/${enc}/history`),
    api(`/memories/${enc}/access`, { query: { limit: 50 } }), api(`/memories/${enc}/related`, { query: { limit: 5 } }).catch(() => ({ items: [] })),
    api("/rules").catch(() => null), api("/apps").catch(() => null), // management: admin tokens only
  ]);
  const text = h("textarea", { name: "text", required: true });
  text.value = m.text;
  const cats = h("input", { name: "categories", value: m.categories.join(", ") });
  const edit = h("form", { class: "panel stack", "aria-label": "Edit memory", onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    if (text.value !== m.text) body.text = text.value;
    const newCats = splitCats(cats.value);
    if (newCats.join("\u0000") !== m.categories.join("\u0000")) body.categories = newCats;
    if (!Object.keys(body).length) return status("Nothing changed");
    try {
      await api(`/memories/${enc}`, { method: "PATCH", body });
      status(body.text ? "Saved (text re-embedded)" : "Saved");
      document.getElementById("main").replaceChildren(await memoryPage(id));
    } catch (err) { alertError(err); }
  } },
    h("h2", {}, "Edit"), field("Text", text), field("Categories (comma-separated)", cats),
    h("div", { class: "row end" }, h("button", { type: "submit" }, "Save")));
  const stateButtons = ACTIONS.map(([action, label]) => h("button", { type: "button", class: action === "delete" ? "danger" : "secondary",
    disabled: m.state === TARGET[action], title: m.state === TARGET[action] ? `Already ${m.state}` : null, onclick: async () => {
    if (!(await confirmAction(`${label} this memory?`, { title: `${label} memory`, ok: label }))) return;
    try {
      const r = await api(`/memories/${enc}/state`, { method: "POST", body: { action } });
      status(`Memory is now ${r.state}`);
      document.getElementById("main").replaceChildren(await memoryPage(id));
    } catch (err) { alertError(err); }
  } }, label));
  return h("div", {},
    h("p", {}, h("a", { href: "#/memories" }, "← All memories")),
    h("h1", {}, "Memory ", stateBadge(m.state)),
    h("section", { class: "panel" },
      h("p", { class: "text", id: "memory-text" }, m.text),
      h("dl", { class: "kv" },
        h("dt", {}, "Id"), h("dd", {}, m.id), h("dt", {}, "App"), h("dd", {}, appLabel(m.app)),
        h("dt", {}, "Categories"), h("dd", {}, m.categories.length ? chips(m.categories) : "none"),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(m.created_at)), h("dt", {}, "Updated"), h("dd", {}, fmtTime(m.updated_at)),
        h("dt", {}, "Metadata"), h("dd", {}, JSON.stringify(m.metadata))),
      h("div", { class: "row", role: "group", "aria-label": "Change state" }, stateButtons)),
    h("div", { class: "grid" },
      edit,
      h("section", { class: "panel", "aria-label": "History" }, h("h2", {}, "History"), historyList(hist.items))),
    rules && apps ? memoryRules(id, rules.items, apps.items) : null,
    h("div", { class: "grid" },
      h("section", { class: "panel", "aria-label": "Access log" }, h("h2", {}, "Who read it"),
        access.items.length ? table(["App", "How", "Query", "Score", "When"], access.items.map((r) => h("tr", {},
          h("td", {}, r.app || "owner"), h("td", {}, r.op), h("td", {}, r.query || ""), h("td", {}, r.score === null ? "" : r.score.toFixed(3)),
          h("td", {}, fmtTime(r.at)))), { caption: "Access log" }) : empty("No app has read this memory.")),
      h("section", { class: "panel", "aria-label": "Related memories" }, h("h2", {}, "Related"),
        related.items.length ? h("ul", {}, related.items.map((r) => h("li", {}, h("a", { href: `#/memories/${r.id}` }, r.text),
          h("span", { class: "muted" }, ` (${r.score.toFixed(2)})`)))) : empty("Nothing similar."))));
}
