// Small DOM helpers shared by the pages.

/** Create an element: h("p", {class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

let noticeTimer = 0;
/** Show a message in the page's live region (read out by screen readers). */
export function notify(message, kind = "info") {
  const notice = document.getElementById("notice");
  notice.textContent = message;
  notice.className = kind;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  if (kind !== "error") noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
}

/** Ask a yes/no question in the page's <dialog>; resolves true on "ok". */
export function confirmDialog(text, okLabel = "Remove") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export function fillVoiceSelect(select, voices, selected) {
  const keep = select.value || selected;
  select.replaceChildren(...voices.map((v) => h("option", { value: v.name }, `${v.name} (${v.engine || "?"}, ${v.kind})`)));
  if (keep && voices.some((v) => v.name === keep)) select.value = keep;
}

export function seconds(value) {
  return value === undefined || value === null ? "–" : `${value.toFixed(1)} s`;
}
