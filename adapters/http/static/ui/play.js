// Playground: any text, voice, format, speed and engine options; timings; download; A/B of two voices.
import { json, voices } from "./api.js";
import { speak } from "./audio.js";
import { fillVoiceSelect, h } from "./ui.js";

export function playPage() {
  const $ = (id) => document.getElementById(id);
  const speed = $("play-speed");
  speed.addEventListener("input", () => { $("play-speed-out").value = Number(speed.value).toFixed(2); });
  $("play-form").addEventListener("submit", (event) => { event.preventDefault(); run(); });
  $("ab-form").addEventListener("submit", (event) => { event.preventDefault(); compare(); });
  let urls = [];

  function request(voice) {
    const options = {};
    for (const key of ["seed", "steps", "guidance"]) {
      const value = $(`opt-${key}`).value;
      if (value !== "") options[key] = Number(value);
    }
    const body = { input: $("play-text").value, voice, response_format: $("play-format").value,
      speed: Number(speed.value) };
    if ($("play-engine").value) body.model = $("play-engine").value;
    if (Object.keys(options).length) body.options = options;
    return body;
  }

  function link(result) {
    const url = URL.createObjectURL(result.blob);
    urls.push(url);
    return url;
  }

  async function run() {
    const go = $("play-go");
    go.disabled = true;
    go.textContent = "Speaking…";
    try {
      const result = await speak(request($("play-voice").value));
      const url = link(result);
      $("play-result").hidden = false;
      $("play-audio").src = url;
      // Streamed formats: when the sound started; others play only once complete (their first bytes shown).
      const first = result.firstPlayMs ?? result.firstAudioMs;
      $("play-ttfa").textContent = first === null ? "–" : `${Math.round(first)} ms`;
      $("play-rtf").textContent = result.seconds ? (result.totalMs / 1000 / result.seconds).toFixed(2) : "–";
      $("play-rtf").title = "generation time ÷ audio length: below 1 is faster than real time";
      $("play-len").textContent = result.seconds ? `${result.seconds.toFixed(2)} s` : "–";
      const download = $("play-download");
      download.href = url;
      download.download = `voxhub-${result.voice || "speech"}.${result.extension}`;
      download.textContent = `Download (${result.extension})`;
      Object.assign($("play-result").dataset, {
        done: String(Date.now()), totalMs: String(Math.round(result.totalMs)),
        firstPlayMs: result.firstPlayMs == null ? "" : String(Math.round(result.firstPlayMs)),
      });
    } finally {
      go.disabled = false;
      go.textContent = "Speak";
    }
  }

  async function compare() {
    const box = $("ab-result");
    const go = $("ab-go");
    go.disabled = true;
    box.replaceChildren();
    try {
      for (const [label, voice] of [["A", $("ab-a").value], ["B", $("ab-b").value]]) {
        // Not played aloud while streaming: the listener starts each one when ready to compare.
        const result = await speak({ ...request(voice), response_format: "wav" }, { play: false });
        box.append(h("div", { class: "ab" }, h("h4", {}, `${label}: ${voice}`),
          h("audio", { controls: true, src: link(result), "aria-label": `Voice ${label}: ${voice}` }),
          h("p", { class: "muted" }, `first audio ${Math.round(result.firstAudioMs)} ms · ${result.seconds.toFixed(2)} s`)));
      }
    } finally {
      go.disabled = false;
    }
  }

  async function enter() {
    urls.forEach((u) => URL.revokeObjectURL(u));
    urls = [];
    const [{ voices: all, default: fallback }, models] = await Promise.all([voices(), json("v1/models")]);
    for (const id of ["play-voice", "ab-a", "ab-b"]) fillVoiceSelect($(id), all, fallback);
    if (all.length > 1 && $("ab-b").value === $("ab-a").value) $("ab-b").value = all[1].name;
    const engines = models.data.map((m) => m.id).filter((id) => !id.startsWith("tts-") && !id.startsWith("gpt-"));
    const engine = $("play-engine");
    const keep = engine.value;
    engine.replaceChildren(h("option", { value: "" }, "the voice's own"), ...engines.map((e) => h("option", { value: e }, e)));
    engine.value = engines.includes(keep) ? keep : "";
  }

  return { enter };
}
