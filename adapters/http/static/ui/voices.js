// Voices: every preset and cloned voice, a sample to listen to, details, and removal.
import { api, json, voices } from "./api.js";
import { speak } from "./audio.js";
import { confirmDialog, h, notify } from "./ui.js";
import { verdictText } from "./report.js";

export function voicesPage() {
  const list = document.getElementById("voices-list");
  document.getElementById("voices-refresh").addEventListener("click", () => load());

  async function load() {
    list.setAttribute("aria-busy", "true");
    const { voices: all, default: fallback } = await voices();
    const details = await Promise.all(all.map((v) => v.kind === "cloned"
      ? json(`v1/voices/${encodeURIComponent(v.name)}`).catch(() => null) : null));
    list.replaceChildren(...all.map((voice, i) => card(voice, details[i], voice.name === fallback)));
    if (!all.length) list.append(h("p", {}, "No voices yet: enable an engine or clone one."));
    list.removeAttribute("aria-busy");
  }

  function card(voice, detail, isDefault) {
    const quality = detail?.quality || null;
    const metrics = quality?.metrics || {};
    const similar = quality?.details?.near_duplicates || [];
    const languages = (voice.languages || []).join(", ") || "–";
    const body = h("div", { class: "card", "data-voice": voice.name },
      h("h3", {}, voice.name, isDefault ? h("span", { class: "muted" }, " (default)") : null),
      h("div", {}, h("span", { class: `badge ${voice.kind}` }, voice.kind), " ",
        quality ? h("span", { class: `badge ${quality.verdict}`, title: "quality verdict" }, verdictText(quality.verdict)) : null),
      h("dl", { class: "kv" },
        h("dt", {}, "Engine"), h("dd", {}, voice.engine || "none enabled"),
        h("dt", {}, "Language"), h("dd", {}, languages),
        quality ? [h("dt", {}, "Quality score"), h("dd", {}, quality.score.toFixed(2))] : null,
        metrics.speaker_consistency != null
          ? [h("dt", {}, "One speaker"), h("dd", {}, metrics.speaker_consistency.toFixed(2))] : null,
        similar.length ? [h("dt", {}, "Sounds like"),
          h("dd", {}, similar.map((s) => `${s.voice} (${s.similarity.toFixed(2)})`).join(", "))] : null),
    );
    const actions = h("div", { class: "actions" },
      h("button", { type: "button", class: "play", "aria-label": `Play a sample of ${voice.name}`,
        onclick: (e) => sample(voice.name, e.currentTarget) }, "▶ Play"));
    if (voice.kind === "cloned") {
      const more = h("details", {}, h("summary", {}, "Details"));
      more.addEventListener("toggle", () => { if (more.open && more.children.length === 1) fillDetails(more, voice.name, detail); }, { once: false });
      body.append(more);
      actions.append(h("button", { type: "button", class: "danger remove", "aria-label": `Remove ${voice.name}`,
        onclick: () => remove(voice.name) }, "Remove"));
    }
    body.append(actions);
    return body;
  }

  async function fillDetails(box, name, detail) {
    const quality = detail?.quality;
    const clip = h("audio", { controls: true, "aria-label": `Reference clip of ${name}` });
    box.append(
      h("dl", { class: "kv" },
        h("dt", {}, "Transcript"), h("dd", {}, detail?.transcript || "–"),
        h("dt", {}, "Clip length"), h("dd", {}, detail?.reference_seconds ? `${detail.reference_seconds} s` : "–")),
      quality?.findings?.length
        ? h("ul", { class: "findings" }, quality.findings.map((f) => h("li", { class: f.severity }, h("span", { class: "advice" }, f.message))))
        : h("p", { class: "muted" }, quality ? "No problems were found in the clip." : "Stored without a quality check."),
      h("p", {}, "Reference clip:"), clip);
    const response = await api(`v1/voices/${encodeURIComponent(name)}/reference`);
    clip.src = URL.createObjectURL(await response.blob());
  }

  async function sample(name, button) {
    button.disabled = true;
    try {
      const text = document.getElementById("voices-sample").value || "Hello!";
      await speak({ input: text, voice: name, response_format: "wav" });
    } finally {
      button.disabled = false;
    }
  }

  async function remove(name) {
    if (!(await confirmDialog(`Remove the voice “${name}”? Its recording and settings are deleted.`))) return;
    await api(`v1/voices/${encodeURIComponent(name)}`, { method: "DELETE" });
    notify(`Removed ${name}.`, "ok");
    await load();
  }

  return { enter: load };
}
