// Clone a voice: record (MediaRecorder, level meter, countdown) or upload, check, correct, save.
import { api, json } from "./api.js";
import { confirmDialog, h, notify } from "./ui.js";
import { renderReport } from "./report.js";

const MIN_S = 3, MAX_S = 12, COUNTDOWN = 3;

export function clonePage() {
  const $ = (id) => document.getElementById(id);
  const startButton = $("rec-start"), stopButton = $("rec-stop"), state = $("rec-state"), meter = $("rec-level");
  let clip = null;          // the Blob to check and save
  let recorder = null;
  let stopTimer = 0;

  startButton.addEventListener("click", () => record().catch(fail));
  stopButton.addEventListener("click", () => recorder?.state === "recording" && recorder.stop());
  $("clone-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) use(file, file.name).catch(fail);
  });
  $("clone-form").addEventListener("submit", (event) => { event.preventDefault(); save().catch(fail); });

  function fail(error) {
    state.textContent = "Not recording";
    notify(error.name === "NotAllowedError"
      ? "The browser did not allow the microphone: allow it in the address bar (or upload a file)."
      : error.message, "error");
  }

  async function record() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("This browser cannot record here (recording needs https or localhost): upload a file instead.");
    }
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false } });
    const stopMeter = levelMeter(stream);
    startButton.disabled = true;
    for (let n = COUNTDOWN; n > 0; n--) {
      state.textContent = `Starting in ${n}…`;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => e.data.size && parts.push(e.data);
    const started = performance.now();
    const done = new Promise((resolve) => { recorder.onstop = resolve; });
    recorder.start(250);
    stopButton.disabled = false;
    const tick = setInterval(() => {
      const s = (performance.now() - started) / 1000;
      state.textContent = `Recording… ${s.toFixed(0)} s of ${MAX_S} s${s < MIN_S ? ` (at least ${MIN_S})` : ""}`;
    }, 250);
    stopTimer = setTimeout(() => recorder.state === "recording" && recorder.stop(), MAX_S * 1000);
    await done;
    clearInterval(tick); clearTimeout(stopTimer);
    stream.getTracks().forEach((t) => t.stop());
    stopMeter();
    stopButton.disabled = true; startButton.disabled = false;
    const seconds = (performance.now() - started) / 1000;
    state.textContent = `Recorded ${seconds.toFixed(1)} s`;
    const type = recorder.mimeType || "audio/webm";
    await use(new Blob(parts, { type }), `recording.${type.includes("ogg") ? "ogg" : "webm"}`);
  }

  function levelMeter(stream) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    let running = true;
    const draw = () => {
      if (!running) return;
      analyser.getFloatTimeDomainData(data);
      let peak = 0;
      for (const x of data) peak = Math.max(peak, Math.abs(x));
      meter.value = peak;
      requestAnimationFrame(draw);
    };
    draw();
    return () => { running = false; meter.value = 0; ctx.close(); };
  }

  async function use(blob, filename) {
    clip = { blob, filename };
    $("clone-review").hidden = false;
    $("clone-preview").src = URL.createObjectURL(blob);
    $("clone-save").disabled = true;
    const box = $("clone-report");
    box.replaceChildren(h("p", { role: "status" }, "Checking the clip… (this takes a few seconds)"));
    const form = new FormData();
    form.append("file", blob, filename);
    const report = await json("v1/quality", { method: "POST", body: form });
    box.replaceChildren(renderReport(report));
    if (report.transcript) $("clone-transcript").value = report.transcript;
    if (report.language && !$("clone-language").value) $("clone-language").value = report.language;
    $("clone-save").disabled = report.verdict === "reject";
    if (report.verdict !== "reject") $("clone-name").focus();
  }

  async function save() {
    const name = $("clone-name").value.trim();
    if (!clip || !name) return;
    const replace = $("clone-replace").checked;
    if (replace && !(await confirmDialog(`Replace the voice “${name}” if it exists?`, "Replace"))) return;
    const form = new FormData();
    form.append("name", name);
    form.append("file", clip.blob, clip.filename);
    form.append("transcript", $("clone-transcript").value.trim());
    form.append("language", $("clone-language").value.trim());
    if (replace) form.append("replace", "true");
    // The checkbox is required by the form; the hub refuses an enrollment without it anyway.
    if ($("clone-consent").checked) form.append("consent", "true");
    $("clone-save").disabled = true;
    try {
      await api("v1/voices", { method: "POST", body: form });
    } catch (error) {
      $("clone-save").disabled = false;
      throw error;
    }
    notify(`Saved the voice ${name}. It is now in the list of voices.`, "ok");
    $("clone-review").hidden = true;
    $("clone-name").value = ""; $("clone-transcript").value = "";
    clip = null;
    location.hash = "#voices";
  }

  return { enter() {}, leave() { if (recorder?.state === "recording") recorder.stop(); } };
}
