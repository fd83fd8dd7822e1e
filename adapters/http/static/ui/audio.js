// Speech from POST /v1/audio/speech: wav and pcm play while they stream (Web Audio, each piece scheduled
// right after the previous one); compressed formats play once complete. Timings are measured here.
import { api } from "./api.js";

let context = null;

function audioContext() {
  context = context || new AudioContext();
  if (context.state === "suspended") context.resume();
  return context;
}

/** A complete 16-bit PCM WAV file, for the player and the download link. */
export function wavFile(pcm, rate, channels = 1) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + pcm.byteLength, true); text(8, "WAVE");
  text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true);
  header.setUint16(22, channels, true); header.setUint32(24, rate, true);
  header.setUint32(28, rate * channels * 2, true); header.setUint16(32, channels * 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, pcm.byteLength, true);
  return new Blob([header.buffer, pcm], { type: "audio/wav" });
}

class StreamPlayer {
  constructor(rate, channels, play, started) {
    this.rate = rate; this.channels = channels; this.play = play; this.started = started;
    this.firstPlayMs = null;
    this.next = 0; this.pending = new Uint8Array(0); this.parts = []; this.bytes = 0;
  }

  push(bytes) {
    const joined = new Uint8Array(this.pending.length + bytes.length);
    joined.set(this.pending); joined.set(bytes, this.pending.length);
    const frame = 2 * this.channels;
    const usable = joined.length - (joined.length % frame);
    this.pending = joined.slice(usable);
    if (!usable) return;
    const pcm = joined.slice(0, usable);
    this.parts.push(pcm); this.bytes += pcm.length;
    if (this.play) this.schedule(pcm);
  }

  schedule(pcm) {
    const ctx = audioContext();
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    const frames = samples.length / this.channels;
    const buffer = ctx.createBuffer(this.channels, frames, this.rate);
    for (let c = 0; c < this.channels; c++) {
      const out = buffer.getChannelData(c);
      for (let i = 0; i < frames; i++) out[i] = samples[i * this.channels + c] / 32768;
    }
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    this.next = Math.max(this.next, ctx.currentTime + 0.05);
    source.start(this.next);
    this.next += buffer.duration;
    // When the first sound was due, counted from the request: what a listener calls "first audio".
    if (this.firstPlayMs === null) this.firstPlayMs = performance.now() - this.started + (this.next - buffer.duration - ctx.currentTime) * 1000;
  }

  get seconds() { return this.bytes / (2 * this.channels * this.rate); }
}

/**
 * Speak `request` (the JSON body of /v1/audio/speech). Returns {blob, seconds, firstAudioMs (first bytes),
 * firstPlayMs (first sound, while streaming), totalMs, serverFirstAudioMs, voice, engine}. `play`: play
 * while it streams (wav/pcm only).
 */
export async function speak(request, { play = true } = {}) {
  const started = performance.now();
  const response = await api("v1/audio/speech", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  const format = request.response_format || "mp3";
  const reader = response.body.getReader();
  let firstAudioMs = null;
  let player = null;
  let header = new Uint8Array(0);
  const chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!value || !value.length) continue;
    if (firstAudioMs === null) firstAudioMs = performance.now() - started;
    if (format === "wav" || format === "pcm") {
      let bytes = value;
      if (!player && format === "wav") {
        header = concat(header, bytes);
        if (header.length < 44) continue;  // the header can arrive split
        const view = new DataView(header.buffer, header.byteOffset);
        player = new StreamPlayer(view.getUint32(24, true), view.getUint16(22, true), play, started);
        bytes = header.slice(44);
      } else if (!player) {
        player = new StreamPlayer(Number(response.headers.get("X-Voxhub-Sample-Rate")) || 24000, 1, play, started);
      }
      player.push(bytes);
    } else {
      chunks.push(value);
    }
  }
  const totalMs = performance.now() - started;
  const result = {
    firstAudioMs, totalMs,
    serverFirstAudioMs: Number(response.headers.get("X-Voxhub-First-Audio-Ms")) || null,
    voice: response.headers.get("X-Voxhub-Voice"),
    engine: response.headers.get("X-Voxhub-Engine"),
  };
  if (player) {
    result.blob = wavFile(concat(...player.parts), player.rate, player.channels);
    result.seconds = player.seconds;
    result.extension = "wav";
    result.firstPlayMs = player.firstPlayMs;
  } else {
    result.blob = new Blob(chunks, { type: response.headers.get("Content-Type") || "application/octet-stream" });
    result.seconds = await duration(result.blob);
    result.extension = format;
  }
  return result;
}

function concat(...arrays) {
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) { out.set(a, offset); offset += a.length; }
  return out;
}

/** Length of an audio file in seconds, as the browser decodes it (null when it cannot). */
export async function duration(blob) {
  try {
    const decoded = await audioContext().decodeAudioData(await blob.arrayBuffer());
    return decoded.duration;
  } catch {
    return null;
  }
}
