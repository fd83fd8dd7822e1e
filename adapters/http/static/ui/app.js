// The page router: one HTML page, four sections, chosen by the URL's #fragment (relative by nature).
import { voicesPage } from "./voices.js";
import { clonePage } from "./clone.js";
import { playPage } from "./play.js";
import { statusPage } from "./status.js";
import { notify } from "./ui.js";

const pages = { voices: voicesPage(), clone: clonePage(), play: playPage(), status: statusPage() };
let current = null;

function show() {
  const name = location.hash.slice(1) in pages ? location.hash.slice(1) : "voices";
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.dataset.page !== name;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current && current !== pages[name]) current.leave?.();
  current = pages[name];
  document.title = `voxhub · ${document.querySelector(`nav a[data-page="${name}"]`).textContent}`;
  Promise.resolve(current.enter()).catch((error) => notify(error.message, "error"));
}

window.addEventListener("hashchange", () => {
  show();
  // Keyboard and screen-reader users land on the new page's content, not back at the menu.
  document.getElementById("main").focus({ preventScroll: true });
  window.scrollTo(0, 0);
});
window.addEventListener("unhandledrejection", (event) => {
  // Shown to the user instead of failing silently; the API's messages say what to do.
  event.preventDefault();
  notify(event.reason?.message || String(event.reason), "error");
});
show();
document.body.dataset.ready = "true";
