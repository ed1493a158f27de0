// The auditor console's "verify now" progress: polls the job's JSON every 500 ms and
// updates the <progress> element and the result text.  Without JavaScript the page
// offers a reload link instead.
"use strict";
(function () {
  const box = document.getElementById("verify-job");
  if (!box || box.dataset.state !== "running") {
    return;
  }
  const url = box.dataset.jobUrl;
  const bar = document.getElementById("verify-progress");
  const phase = document.getElementById("verify-phase");
  const count = document.getElementById("verify-count");
  const result = document.getElementById("verify-result");
  const reload = document.getElementById("verify-reload");
  const fmt = new Intl.NumberFormat();

  function show(view) {
    bar.max = view.max;
    bar.value = view.value;
    bar.textContent = view.done + " / " + view.total;
    phase.textContent = view.phase;
    count.textContent = fmt.format(view.done) + " / " + fmt.format(view.total);
    box.dataset.state = view.state;
    if (view.state !== "running") {
      result.textContent = view.text;
      result.className = view.state === "done" ? "check ok" : "check bad";
      if (reload) {
        reload.hidden = true;
      }
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.json();
      })
      .then(function (data) {
        show(data.view);
        if (data.state === "running") {
          window.setTimeout(poll, 500);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 2000);
      });
  }

  if (reload) {
    reload.hidden = true;
  }
  window.setTimeout(poll, 500);
})();
