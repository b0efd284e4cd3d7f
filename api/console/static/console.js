// docqueue console: live fragments, confirmations and evidence focus. Loaded as a file:
// the Content-Security-Policy runs no inline script. Without it the pages still work
// (forms post, links to evidence jump); they only stop updating by themselves.
(function () {
  "use strict";

  // Every [data-poll] element is refreshed from its URL, which answers the element again.
  async function refresh() {
    for (const el of document.querySelectorAll("[data-poll]")) {
      try {
        const res = await fetch(el.dataset.poll, {
          headers: { Accept: "text/html" }, credentials: "same-origin", cache: "no-store",
        });
        if (res.redirected || !res.ok) continue; // signed out or gone: keep what is shown
        const tpl = document.createElement("template");
        tpl.innerHTML = (await res.text()).trim();
        const fresh = tpl.content.firstElementChild;
        if (fresh && fresh.id === el.id) el.replaceWith(fresh);
      } catch (err) {
        // a network blip: the next tick tries again
      }
    }
  }
  const paced = document.querySelector("[data-poll-ms]");
  const every = paced ? parseInt(paced.dataset.pollMs, 10) : 0;
  if (every > 0) window.setInterval(refresh, every);

  document.addEventListener("submit", function (ev) {
    const form = ev.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
    }
  });

  // A field's evidence link: scroll its quote into view and mark every piece of it.
  function show(mark) {
    for (const m of document.querySelectorAll("mark.active")) m.classList.remove("active");
    for (const m of document.querySelectorAll('mark[data-field="' + mark.dataset.field + '"]')) {
      m.classList.add("active");
    }
    mark.scrollIntoView({ block: "center" });
    mark.focus({ preventScroll: true });
  }
  document.addEventListener("click", function (ev) {
    const link = ev.target.closest && ev.target.closest("a.to-evidence");
    if (!link) return;
    const mark = document.getElementById(link.getAttribute("href").slice(1));
    if (!mark) return;
    ev.preventDefault();
    show(mark);
    window.history.replaceState(null, "", link.getAttribute("href"));
  });
})();

// The review page's keys: a approve, e edit the least sure field, n next, p previous.
(function () {
  "use strict";
  const form = document.getElementById("review-form");
  if (!form) return;
  const first = form.querySelector("input[data-first]");
  // Enter inside a field saves corrections (the form's second button), never approves.
  form.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.tagName === "INPUT") {
      ev.preventDefault();
      form.requestSubmit(form.querySelector('button[value="correct"]'));
    }
  });
  document.addEventListener("keydown", function (ev) {
    const typing = ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA";
    if (typing) {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "a") {
      ev.preventDefault();
      form.requestSubmit(form.querySelector('button[value="approve"]'));
    } else if (ev.key === "e" && first) {
      ev.preventDefault();
      first.focus();
      first.select();
    } else if (ev.key === "n") {
      const next = form.querySelector('a[data-key="n"]');
      if (next) window.location.assign(next.href);
    } else if (ev.key === "p") {
      window.history.back();
    }
  });
  const back = form.querySelector("button[data-back]");
  if (back) back.addEventListener("click", function () { window.history.back(); });
})();
