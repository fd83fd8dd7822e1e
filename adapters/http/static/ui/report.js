// A quality report in plain words: what each finding means for the voice, then the hub's own advice.
import { h } from "./ui.js";

const TITLES = {
  too_quiet: "Too quiet",
  clipping: "Too loud: the sound is clipped (distorted)",
  noise: "Noisy background",
  multiple_speakers: "More than one person speaking",
  too_short: "Too short",
  no_speech: "No speech found",
  silence: "Long silences",
  bandwidth: "Muffled, phone-like sound",
  dc_offset: "Microphone offset",
  unclear_speech: "Hard to understand",
  word_errors: "Words not understood",
  transcript_mismatch: "The transcript does not match what is said",
  near_duplicate: "Sounds like a voice you already have",
  speaker_mismatch: "Sounds like a different person",
};

export function verdictText(verdict) {
  return { accept: "good", warn: "usable", reject: "not usable" }[verdict] || verdict;
}

const HEADLINES = {
  accept: "Good clip: ready to save.",
  warn: "Usable, but the voice may sound worse than it could. See below.",
  reject: "This clip cannot be used. Fix the problem below and record again.",
};

export function renderReport(report) {
  const findings = report.findings || [];
  return h("div", { class: "report", "data-verdict": report.verdict },
    h("p", { class: `verdict ${report.verdict}` }, HEADLINES[report.verdict] || report.verdict),
    h("p", { class: "muted" }, `Score ${report.score.toFixed(2)} of 1.`),
    findings.length
      ? h("ul", { class: "findings" }, findings.map((f) => h("li", { class: f.severity, "data-code": f.code },
        h("strong", {}, TITLES[f.code] || f.code), h("span", { class: "advice" }, f.message))))
      : h("p", {}, "No problems found."));
}
