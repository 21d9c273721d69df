// Live updates: the server sends the page's sections, rendered, each time they change.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!document.body.dataset.updates) { live.textContent = ""; return; }  // a page without live parts
  const source = new EventSource(document.body.dataset.updates);
  source.onopen = () => { live.textContent = "Live: updates as they happen."; };
  source.onerror = () => { live.textContent = "Live updates interrupted; reconnecting…"; };
  source.onmessage = (message) => {
    const sections = JSON.parse(message.data);
    for (const [id, html] of Object.entries(sections)) {
      const element = document.getElementById(id);
      if (element && element.innerHTML !== html) element.innerHTML = html;
    }
    document.body.dataset.updated = String(Date.now());
  };
})();
