// Dashboard: totals by state, app and category; added/accessed chart; recent changes; connected apps.
import { api } from "../api.js";
import { timelineChart } from "../chart.js";
import { empty, fmtTime, h, prefs, select, field, stateBadge, table } from "../dom.js";

function bars(obj, title) {
  const entries = Object.entries(obj || {}).sort((a, b) => b[1] - a[1]).slice(0, 10);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  return h("section", { class: "panel", "aria-label": title }, h("h2", {}, title),
    entries.length ? h("ul", { class: "bars" }, entries.map(([k, v]) => {
      const bar = h("span", { class: "bar", "aria-hidden": "true" });
      bar.style.width = `${(100 * v) / max}%`;
      return h("li", {}, h("span", { class: "name", title: k }, k), h("span", {}, bar), h("span", {}, String(v)));
    })) : empty("Nothing yet."));
}

async function chartPanel(days) {
  const data = await api("/stats/timeline", { query: { days, tz: prefs.timezone } });
  const pick = select([[7, "7 days"], [30, "30 days"], [90, "90 days"], [365, "1 year"]], days);
  const box = h("section", { class: "panel chart", id: "timeline", "aria-label": "Activity over time" });
  pick.addEventListener("change", async () => box.replaceWith(await chartPanel(Number(pick.value))));
  box.append(
    h("div", { class: "row" }, h("h2", { class: "grow" }, `Added and accessed per day (${data.tz})`), field("Period", pick)),
    h("p", { class: "legend" }, h("span", {}, h("span", { class: "sw added" }), `Added (${data.total_added})`),
      h("span", {}, h("span", { class: "sw accessed" }), `Accessed by apps (${data.total_accessed})`)),
    timelineChart(data.items));
  return box;
}

export async function dashboardPage() {
  const [stats, apps, recent, reads] = await Promise.all([
    api("/stats"),
    api("/apps").catch(() => ({ items: [] })),
    api("/memories", { query: { sort: "updated_at", order: "desc", size: 8, state: ["active", "paused", "archived", "deleted"] } }),
    api("/access", { query: { limit: 8 } }),
  ]);
  const m = stats.memories, st = m.by_state;
  const card = (n, l) => h("div", { class: "card" }, h("div", { class: "n" }, String(n ?? 0)), h("div", { class: "l" }, l));
  return h("div", {},
    h("h1", {}, "Dashboard"),
    h("div", { class: "cards", "aria-label": "Totals" },
      card(m.total, "memories (all states)"), card(st.active, "active"), card(st.paused, "paused"),
      card(st.archived, "archived"), card(st.deleted, "deleted"), card(stats.apps.total, `apps (${stats.apps.paused} paused)`)),
    await chartPanel(30),
    h("div", { class: "grid" }, bars(m.by_app, "By app"), bars(m.by_category, "By category")),
    h("div", { class: "grid" },
      h("section", { class: "panel", "aria-label": "Recent activity" }, h("h2", {}, "Recent activity"),
        recent.items.length ? table(["Memory", "State", "Changed"], recent.items.map((x) => h("tr", {},
          h("td", { class: "text" }, h("a", { href: `#/memories/${x.id}` }, x.text.length > 80 ? x.text.slice(0, 80) + "…" : x.text)),
          h("td", {}, stateBadge(x.state)), h("td", {}, fmtTime(x.updated_at)))), { caption: "Recently changed memories" })
          : empty("No memories yet: connect a client or add one on the Memories page."),
        h("h3", {}, "Recent reads by apps"),
        reads.items.length ? table(["App", "How", "Memory", "When"], reads.items.map((r) => h("tr", {},
          h("td", {}, r.app || "owner"), h("td", {}, r.op, r.query ? h("span", { class: "muted" }, ` “${r.query}”`) : null),
          h("td", {}, h("a", { href: `#/memories/${r.memory_id}`, "aria-label": `Memory ${r.memory_id}` }, r.memory_id.slice(0, 8))),
          h("td", {}, fmtTime(r.at)))), { caption: "Recent reads by apps" }) : empty("No app has read anything yet.")),
      h("section", { class: "panel", "aria-label": "Connected apps" }, h("h2", {}, "Connected apps"),
        apps.items.length ? h("ul", {}, apps.items.map((a) => h("li", {},
          h("a", { href: `#/apps/${encodeURIComponent(a.name)}` }, a.name), " ",
          h("span", { class: `badge ${a.paused ? "paused" : "active"}` }, a.paused ? "paused" : "active"),
          h("span", { class: "muted" }, ` · ${a.memories} memories · since ${fmtTime(a.created_at)}`))))
          : empty("No app has connected yet. See Connect."))),
    h("p", { class: "muted" }, `Index: ${stats.index.active_vectors} vectors, ${stats.index.embedder || "no embedder yet"}${stats.index.dim ? ` (${stats.index.dim}-d)` : ""} · log seq ${stats.log.seq}`));
}
