// Connect: per-client MCP configs with this server's URL, a freshly created token, copy buttons;
// the token list with revoke.
import { api, session } from "../api.js";
import { alertError, confirmAction, copyText, empty, field, fmtTime, h, select, status, table } from "../dom.js";

export async function connectPage() {
  const info = await api("/connect");
  const root = h("div", {}, h("h1", {}, "Connect a client"));
  let token = null;
  const snippets = h("div", { id: "snippets" });

  function renderSnippets() {
    snippets.replaceChildren(...info.clients.map((c) => {
      let text = JSON.stringify(c.config, null, 2);
      if (info.token_placeholder && token) text = text.split(info.token_placeholder).join(token);
      const pre = h("pre", { class: "snippet", id: `snippet-${c.id}`, tabindex: "0", "aria-label": `${c.name} configuration` }, text);
      return h("section", { class: "panel", "aria-label": c.name, dataset: { client: c.id } },
        h("div", { class: "row" }, h("h2", { class: "grow" }, c.name),
          h("button", { type: "button", class: "secondary small", "aria-label": `Copy the ${c.name} configuration`, onclick: () => copyText(text) }, "Copy")),
        h("p", { class: "muted" }, "Put this in ", h("code", {}, c.where), ". MCP URL: ", h("code", {}, c.url)),
        pre);
    }));
  }

  if (info.oauth_url) {
    root.append(h("section", { class: "panel stack", "aria-label": "Add by URL", id: "oauth-url" },
      h("h2", {}, "Add by URL (sign in)"),
      h("p", { class: "muted" }, "Claude (custom connector), ChatGPT, Claude Code, Cursor and VS Code only need this URL: they open a page here where you sign in with an owner admin token and approve."),
      h("div", { class: "row" }, h("code", { class: "grow" }, info.oauth_url),
        h("button", { type: "button", class: "secondary small", onclick: () => copyText(info.oauth_url) }, "Copy URL"))));
    root.append(h("h2", {}, "Or use a token"));
  }
  if (info.auth_required) {
    const client = select(info.clients.map((c) => [c.id, c.name]), "claude");
    const appName = h("input", { name: "app", value: "claude", maxlength: 64, required: true });
    client.addEventListener("change", () => { appName.value = client.value; });
    const scope = select([["write", "read + write (recommended)"], ["read", "read only"]], "write");
    const shown = h("div", { id: "new-token", "aria-live": "polite" });
    root.append(h("form", { class: "panel stack", "aria-label": "Create a token", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const created = await api("/tokens", { method: "POST", body: { app: appName.value.trim(), scopes: [scope.value], description: `created in the UI for ${client.selectedOptions[0].textContent}` } });
        token = created.token;
        shown.replaceChildren(h("p", {}, "New token for app ", h("strong", {}, created.app), " (shown once; it is already in the snippets below):"),
          h("div", { class: "row" }, h("div", { class: "token-once grow", id: "token-value" }, token),
            h("button", { type: "button", class: "secondary small", onclick: () => copyText(token) }, "Copy token")));
        renderSnippets();
        await loadTokens();
        status("Token created");
      } catch (err) { alertError(err); }
    } },
      h("h2", {}, "1. Create a token for the client"),
      h("p", { class: "muted" }, "Each client gets its own token bound to an app name, so you can pause it, give it rules and see what it read."),
      h("div", { class: "row" }, field("Client", client), field("App name", appName), field("Access", scope), h("button", { type: "submit" }, "Create token")),
      shown));
    root.append(h("h2", {}, "2. Paste the configuration"));
  } else {
    root.append(h("p", { class: "notice" }, "Auth is off (loopback only): each client's URL names the client and your user, no token needed."));
  }
  renderSnippets();
  root.append(snippets);

  const tokens = h("section", { class: "panel", "aria-label": "Tokens", id: "tokens" });
  async function loadTokens() {
    if (!info.auth_required) return;
    try {
      const list = await api("/tokens");
      const live = list.items.filter((t) => !t.revoked_at);
      const mine = (session.token || "").split("_")[1];
      tokens.replaceChildren(h("h2", {}, "Tokens"), live.length ? table(["Id", "App", "Scopes", "Description", "Created", ""], live.map((t) => h("tr", { dataset: { token: t.id } },
        h("td", {}, h("code", {}, t.id)), h("td", {}, t.app || "owner", t.id === mine ? h("span", { class: "badge" }, "this session") : null), h("td", {}, t.scopes.join(", ")), h("td", {}, t.description),
        h("td", {}, fmtTime(t.created_at)),
        h("td", {}, h("button", { type: "button", class: "danger small", "aria-label": `Revoke token ${t.id}`, onclick: async () => {
          if (!(await confirmAction(`Revoke token ${t.id} (${t.app || "owner"})? Clients using it stop working at once.${t.id === mine ? " This is the token you signed in with: you will be signed out." : ""}`, { title: "Revoke token", ok: "Revoke" }))) return;
          try { await api(`/tokens/${t.id}`, { method: "DELETE" }); status("Token revoked"); await loadTokens(); } catch (err) { alertError(err); }
        } }, "Revoke")))), { caption: "Tokens" }) : empty("No tokens."));
    } catch (err) {
      tokens.replaceChildren(h("h2", {}, "Tokens"), h("p", { class: "error-text" }, err.message));
    }
  }
  const grants = h("section", { class: "panel", "aria-label": "Connected by sign-in", id: "grants" });
  async function loadGrants() {
    try {
      const list = await api("/tokens/oauth");
      const live = list.items.filter((g) => !g.revoked_at);
      grants.replaceChildren(h("h2", {}, "Connected by sign-in"), live.length ? table(["Client", "App", "Access", "Approved", "Last used", ""], live.map((g) => h("tr", { dataset: { grant: g.id } },
        h("td", {}, g.client_name), h("td", {}, g.app), h("td", {}, g.scopes.join(", ")), h("td", {}, fmtTime(g.created_at)), h("td", {}, fmtTime(g.last_used_at)),
        h("td", {}, h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${g.client_name}`, onclick: async () => {
          if (!(await confirmAction(`Revoke ${g.client_name} (app ${g.app})? It stops working at once and must ask again.`, { title: "Revoke access", ok: "Revoke" }))) return;
          try { await api(`/tokens/oauth/${g.id}`, { method: "DELETE" }); status("Access revoked"); await loadGrants(); } catch (err) { alertError(err); }
        } }, "Revoke")))), { caption: "Clients connected by sign-in" }) : empty("No client has signed in yet."));
    } catch (err) {
      grants.replaceChildren(h("h2", {}, "Connected by sign-in"), h("p", { class: "error-text" }, err.message));
    }
  }
  if (info.auth_required) { root.append(tokens); await loadTokens(); }
  if (info.oauth_url) { root.append(grants); await loadGrants(); }
  return root;
}
