// A hand-written SVG line chart of memories added and accessed per day (no library, no canvas),
// with a text summary and a data table for screen readers.
const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

export function timelineChart(items, { width = 720, height = 220 } = {}) {
  const pad = { l: 36, r: 12, t: 12, b: 26 };
  const w = width - pad.l - pad.r, hgt = height - pad.t - pad.b;
  const max = Math.max(1, ...items.map((p) => Math.max(p.added, p.accessed)));
  const nice = max <= 5 ? 5 : Math.ceil(max / 5) * 5;
  const x = (i) => pad.l + (items.length <= 1 ? w / 2 : (i * w) / (items.length - 1));
  const y = (v) => pad.t + hgt - (v / nice) * hgt;
  const total = (k) => items.reduce((a, p) => a + p[k], 0);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title chart-desc" });
  svg.append(s("title", { id: "chart-title" }, "Memories added and accessed per day"));
  svg.append(s("desc", { id: "chart-desc" },
    `${items.length} days from ${items[0]?.date ?? ""} to ${items.at(-1)?.date ?? ""}: ${total("added")} added, ${total("accessed")} accessed.`));
  for (let i = 0; i <= 5; i++) {
    const v = (nice * i) / 5, yy = y(v);
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: yy, y2: yy, class: "axis" }));
    svg.append(s("text", { x: pad.l - 6, y: yy + 4, "text-anchor": "end" }, String(Math.round(v))));
  }
  const step = Math.max(1, Math.ceil(items.length / 8));
  items.forEach((p, i) => {
    const last = i === items.length - 1;
    if (last || (i % step === 0 && items.length - 1 - i >= step / 2)) svg.append(s("text", { x: x(i), y: height - 6, "text-anchor": last && items.length > 1 ? "end" : "middle" }, p.date.slice(5)));
  });
  for (const key of ["accessed", "added"]) {
    const d = items.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: key }));
    items.forEach((p, i) => {
      if (p[key] > 0) {
        const c = s("circle", { cx: x(i), cy: y(p[key]), r: 3, class: `dot-${key}` });
        c.append(s("title", {}, `${p.date}: ${p[key]} ${key}`));
        svg.append(c);
      }
    });
  }
  return svg;
}
