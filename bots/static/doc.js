// The document view: bring the cited clause into view below the header, and the outline with it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const cited = document.querySelector(".sec.hl");
  if (!cited) return;
  cited.setAttribute("tabindex", "-1");
  cited.scrollIntoView({ block: "start" });
  cited.focus({ preventScroll: true });
  const nav = document.querySelector(".outline");
  const entry = nav && nav.querySelector('[aria-current="location"]');
  if (entry) nav.scrollTop = entry.offsetTop - nav.clientHeight / 2;
});
