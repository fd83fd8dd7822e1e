// Status: engines and their workers, adapters, queue and cache, from GET /health (refreshed while shown).
import { h } from "./ui.js";

export function statusPage() {
  const body = document.getElementById("status-body");
  document.getElementById("status-refresh").addEventListener("click", () => load());
  let timer = 0;

  async function load() {
    // /health answers 503 (with the same report) when no engine runs: show it rather than fail.
    const response = await fetch("../health");
    const report = await response.json();
    const engines = Object.entries(report.engines || {});
    const adapters = Object.entries(report.adapters || {});
    body.replaceChildren(
      h("p", {}, "Overall: ", h("span", { class: `badge ${report.status}` }, report.status),
        ` · up ${Math.round(report.uptime_s)} s`),
      h("h3", {}, "Engines"),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Engine", "State", "Version", "Workers", "Restarts", "Queued", "Last error"]
          .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, engines.map(([name, e]) => h("tr", { "data-engine": name },
          h("th", { scope: "row" }, name),
          h("td", {}, h("span", { class: `badge ${e.state}` }, e.state)),
          h("td", {}, e.version || "–"),
          h("td", {}, (e.workers || []).map((w) => h("span", { class: `badge ${w.state}` }, w.state)).flatMap((b) => [b, " "])),
          h("td", {}, String(e.restarts)),
          h("td", {}, String(e.queued)),
          h("td", {}, e.last_error || "–")))))),
      h("h3", {}, "Adapters"),
      adapters.length
        ? h("ul", {}, adapters.map(([name, a]) => h("li", { "data-adapter": name }, `${name}: `,
          h("span", { class: `badge ${a.state}` }, a.state), a.reason ? ` — ${a.reason}` : "")))
        : h("p", { class: "muted" }, "No adapters enabled (Wyoming, MQTT… are set up under [adapters.*])."),
      h("h3", {}, "Synthesis cache"),
      h("p", {}, `${report.cache?.entries ?? 0} phrases, ${((report.cache?.bytes ?? 0) / 1048576).toFixed(1)} MiB`),
      h("p", { class: "muted" }, h("a", { href: "../docs" }, "API documentation"), " · ",
        h("a", { href: "../metrics" }, "Prometheus metrics")));
  }

  return {
    async enter() { await load(); timer = setInterval(() => load().catch(() => {}), 5000); },
    leave() { clearInterval(timer); },
  };
}
