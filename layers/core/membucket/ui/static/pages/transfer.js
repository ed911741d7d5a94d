// Export / import: download a bundle (optionally encrypted), upload one with progress.
import { api, errorFrom, hasRoute, session, upload } from "../api.js";
import { alertError, confirmAction, describe, field, h, select, status } from "../dom.js";

const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

function filenameFrom(res) {
  const cd = res.headers.get("Content-Disposition") || "";
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(cd);
  return m ? decodeURIComponent(m[1] || m[2]) : "membucket-export.bundle";
}

export async function transferPage() {
  const [canExport, canImport, apps] = await Promise.all([hasRoute("/api/v1/export"), hasRoute("/api/v1/import"), api("/apps").catch(() => ({ items: [] }))]);
  const root = h("div", {}, h("h1", {}, "Export / import"));
  if (!canExport || !canImport) {
    root.append(h("p", { class: "notice", id: "transfer-missing" }, "This server does not offer export/import over HTTP yet; use ",
      h("code", {}, "membucket export"), " and ", h("code", {}, "membucket import"), " on the command line."));
  }

  // Export
  const app = select([["", "All apps"], ...apps.items.map((a) => [a.name, a.name])], "");
  const state = select([["", "All states"], ["active", "active"], ["paused", "paused"], ["archived", "archived"], ["deleted", "deleted"]], "");
  const after = h("input", { type: "date", name: "created_after" });
  const before = h("input", { type: "date", name: "created_before" });
  const encrypt = h("input", { type: "checkbox", name: "encrypt" });
  const pass = h("input", { type: "password", name: "passphrase", autocomplete: "new-password", disabled: true, minlength: 8 });
  encrypt.addEventListener("change", () => { pass.disabled = !encrypt.checked; pass.required = encrypt.checked; });
  const exProgress = h("p", { class: "muted", id: "export-progress", "aria-live": "polite" });
  const exButton = h("button", { type: "submit", disabled: !canExport }, "Download export");
  const exportForm = h("form", { class: "panel stack", "aria-label": "Export", onsubmit: async (e) => {
    e.preventDefault();
    exButton.disabled = true;
    exProgress.textContent = "Preparing the bundle…";
    try {
      const body = {
        app: app.value || null, state: state.value ? [state.value] : null,
        created_after: after.value ? `${after.value}T00:00:00Z` : null,
        created_before: before.value ? new Date(Date.parse(`${before.value}T00:00:00Z`) + 86400000).toISOString() : null,
        encrypt: encrypt.checked, passphrase: encrypt.checked ? pass.value : null,
      };
      const headers = { "Content-Type": "application/json" };
      if (session.token) headers.Authorization = `Bearer ${session.token}`;
      const res = await fetch("/api/v1/export", { method: "POST", headers, body: JSON.stringify(body), credentials: "omit" });
      if (!res.ok) throw await errorFrom(res);
      const total = Number(res.headers.get("Content-Length")) || 0;
      const reader = res.body.getReader();
      const chunks = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value); got += value.length;
        exProgress.textContent = `Downloading… ${fmtBytes(got)}${total ? ` of ${fmtBytes(total)}` : ""}`;
      }
      const name = filenameFrom(res);
      const url = URL.createObjectURL(new Blob(chunks, { type: res.headers.get("Content-Type") || "application/octet-stream" }));
      const a = h("a", { href: url, download: name, class: "visually-hidden" }, "download");
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      exProgress.textContent = `Saved ${name} (${fmtBytes(got)}).`;
      status("Export downloaded");
    } catch (err) {
      exProgress.textContent = `Export failed: ${describe(err)}`;
      alertError(err);
    } finally { exButton.disabled = !canExport; }
  } },
    h("h2", {}, "Export"),
    h("p", { class: "muted" }, "A bundle of your memories with their vectors, history and apps. Leave filters empty for everything."),
    h("div", { class: "row" }, field("App", app), field("State", state), field("Created from", after), field("Created until", before)),
    h("div", { class: "row" }, field("Encrypt with a passphrase", encrypt, { inline: true }), field("Passphrase", pass)),
    h("div", { class: "row end" }, exProgress, exButton));

  // Import
  const file = h("input", { type: "file", name: "bundle", required: true });
  const mode = select([["merge", "Merge (add new, update changed)"], ["replace", "Replace everything"]], "merge");
  const reembed = h("input", { type: "checkbox", name: "reembed" });
  const ipass = h("input", { type: "password", name: "import_passphrase", autocomplete: "off" });
  const bar = h("progress", { max: 100, value: 0, id: "import-progress", "aria-label": "Upload progress" });
  const result = h("div", { id: "import-result", "aria-live": "polite" });
  const imButton = h("button", { type: "submit", disabled: !canImport }, "Import");
  const importForm = h("form", { class: "panel stack", "aria-label": "Import", onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    if (mode.value === "replace" && !(await confirmAction("Replace your whole memory with this bundle? Memories not in it are purged.", { title: "Replace memory", ok: "Replace" }))) return;
    imButton.disabled = true;
    bar.value = 0;
    result.replaceChildren(h("p", { class: "muted" }, `Uploading ${f.name} (${fmtBytes(f.size)})…`));
    try {
      const headers = ipass.value ? { "X-Membucket-Passphrase": ipass.value } : {};
      const r = await upload(`/import?mode=${mode.value}&reembed=${reembed.checked}`, f, { headers, onProgress: (done, total) => {
        bar.value = total ? Math.round((100 * done) / total) : 0;
        if (total && done >= total) result.replaceChildren(h("p", { class: "muted" }, "Uploaded; importing…"));
      } });
      bar.value = 100;
      result.replaceChildren(h("p", { class: "ok-text" }, `Imported (${r.mode}, format ${r.format}): ${r.added} added, ${r.updated} updated, ${r.skipped} skipped, ${r.purged} purged; log at seq ${r.seq}.`));
      status("Import finished");
    } catch (err) {
      result.replaceChildren(h("p", { class: "error-text" }, `Import failed: ${describe(err)}`));
      alertError(err);
    } finally { imButton.disabled = !canImport; }
  } },
    h("h2", {}, "Import"),
    h("div", { class: "row" }, h("div", { class: "grow" }, field("Bundle file", file)), field("Mode", mode), field("Passphrase (if encrypted)", ipass)),
    field("Re-embed with this server's model", reembed, { inline: true }),
    bar, h("div", { class: "row end" }, result, imButton));
  root.append(exportForm, importForm);
  return root;
}
