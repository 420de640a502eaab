// Lectern Studio: asks before leaving a form with unsaved changes, keeps those changes in this
// browser (localStorage) until they are saved, offers them back after a closed tab or an
// expired session, puts the focus back where a change to the form's rows left it, and lets
// the cover image's focal point be picked with a click.
(function () {
  "use strict";

  function start() {
    const form = document.getElementById("talk-form");
    if (!form) return;
    const key = form.dataset.draftKey;
    const note = document.querySelector("[data-dirty-note]");
    let dirty = false;
    let leaving = false;

    function fields() {
      const out = [];
      for (const [name, value] of new FormData(form)) {
        if (name !== "csrf" && name !== "op" && name !== "overwrite") out.push([name, String(value)]);
      }
      return out;
    }
    function keep() {
      try {
        localStorage.setItem(key, JSON.stringify({ at: new Date().toISOString(), fields: fields() }));
      } catch (e) { /* storage full or refused: the leave warning still holds */ }
    }
    function kept() {
      try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
    }
    function forget() {
      try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
    }
    function markDirty() {
      dirty = true;
      if (note) note.hidden = false;
    }

    if (form.dataset.saved === "true") forget();
    if (form.dataset.dirty === "true") { markDirty(); keep(); }

    form.addEventListener("input", function () { markDirty(); keep(); });
    form.addEventListener("submit", function () { leaving = true; keep(); });
    document.addEventListener("submit", function () { leaving = true; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !leaving) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    for (const link of document.querySelectorAll("[data-draft-discard-link]")) {
      link.addEventListener("click", function () { forget(); leaving = true; });
    }

    // Changes kept from an earlier visit that the form does not show.
    const banner = document.getElementById("draft-banner");
    const draft = kept();
    if (banner && draft && !dirty && JSON.stringify(draft.fields) !== JSON.stringify(fields())) {
      const time = banner.querySelector("[data-draft-time]");
      if (time) time.textContent = new Date(draft.at).toLocaleString();
      banner.hidden = false;
      banner.querySelector("[data-draft-restore]").addEventListener("click", function () {
        // The server shows the kept values as a form again (rows included), with the version
        // they were read at: saving them over a newer version shows the difference first.
        const post = document.createElement("form");
        post.method = "post";
        post.action = form.action;
        const add = function (name, value) {
          const input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          input.value = value;
          post.appendChild(input);
        };
        add("csrf", form.querySelector("input[name=csrf]").value);
        for (const [name, value] of draft.fields) add(name, value);
        add("op", "restore");
        document.body.appendChild(post);
        leaving = true;
        post.submit();
      });
      banner.querySelector("[data-draft-discard]").addEventListener("click", function () {
        forget();
        banner.hidden = true;
      });
    }

    // Another editor's save (or a publish, an import) while this page is open.
    const live = document.getElementById("live-notice");
    if (live && form.dataset.liveUrl && window.EventSource) {
      const source = new EventSource(form.dataset.liveUrl);
      source.addEventListener("saved", function (message) {
        let saved;
        try { saved = JSON.parse(message.data); } catch (e) { return; }
        const who = saved.yours ? "You (in another window)" : saved.by;
        const what = saved.change === "deleted" ? "deleted this talk"
          : saved.change === "updated" ? "saved version " + saved.version
          : saved.change + " this talk (version " + saved.version + ")";
        live.querySelector("[data-live-text]").textContent =
          who + " " + what + " at " + saved.at + ". " +
          (saved.change === "deleted" ? "" : "Saving this form now shows their changes first; nothing is overwritten silently.");
        live.hidden = false;
      });
      window.addEventListener("pagehide", function () { source.close(); });
    }

    const focus = form.dataset.focus && document.getElementById(form.dataset.focus);
    if (focus) focus.focus();
  }

  // The focal point of the cover image: a click on the preview sets it (as fractions of the
  // width and height), and a marker shows it; the number fields stay the source of truth.
  function focalPicker() {
    const picker = document.querySelector("[data-focal-picker]");
    const x = document.getElementById("focal_x");
    const y = document.getElementById("focal_y");
    if (!picker || !x || !y) return;
    const image = picker.querySelector("img");
    const marker = picker.querySelector("[data-focal-marker]");
    function show() {
      const fx = parseFloat(x.value), fy = parseFloat(y.value);
      if (isNaN(fx) || isNaN(fy)) { marker.hidden = true; return; }
      marker.style.left = (fx * 100) + "%";
      marker.style.top = (fy * 100) + "%";
      marker.hidden = false;
    }
    image.addEventListener("click", function (event) {
      const box = image.getBoundingClientRect();
      const clamp = function (v) { return Math.min(1, Math.max(0, v)); };
      x.value = clamp((event.clientX - box.left) / box.width).toFixed(3);
      y.value = clamp((event.clientY - box.top) / box.height).toFixed(3);
      show();
    });
    x.addEventListener("input", show);
    y.addEventListener("input", show);
    show();
  }

  function ready() { start(); focalPicker(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
