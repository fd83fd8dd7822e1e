// The HTTP API, reached with relative URLs ("../v1/..." from /ui/), so a reverse proxy's prefix
// (Home Assistant ingress: /api/hassio_ingress/<token>/) is kept on every request.
const KEY = "voxhub.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
    this.param = error.param;
    this.body = body;
  }
}

/** fetch() against the API: adds the stored key, asks for one on 401, throws ApiError on failure. */
export async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(options.headers || {});
    const key = localStorage.getItem(KEY);
    if (key) headers.set("Authorization", `Bearer ${key}`);
    const response = await fetch(`../${path}`, { ...options, headers });
    if (response.ok) return response;
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    if (response.status === 401 && attempt === 0 && await askForKey()) continue;
    throw new ApiError(response.status, body);
  }
}

export async function json(path, options) {
  return (await api(path, options)).json();
}

function askForKey() {
  const dialog = document.getElementById("keydialog");
  const input = document.getElementById("key-input");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const value = input.value.trim();
      if (value) localStorage.setItem(KEY, value);
      resolve(Boolean(value));
    }, { once: true });
    dialog.showModal();
  });
}

/** Every voice, with the details (verdict, report) of cloned ones. */
export async function voices() {
  const list = await json("v1/voices");
  return { voices: list.data, default: list.default };
}
