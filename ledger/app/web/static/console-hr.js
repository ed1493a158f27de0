// Report generation progress on /console/campaigns/<c>/reports: polls each queued or
// running job's JSON status until it ends, shows its state in words (queued, running,
// done, failed with the reason) and the download link when the report is ready.
(function () {
  "use strict";
  function poll(li) {
    fetch("/console/report-jobs/" + encodeURIComponent(li.dataset.job) + ".json",
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 404) { return {state: "unknown"}; }
        if (!r.ok) { throw new Error("status " + r.status); }
        return r.json();
      })
      .then(function (j) {
        li.dataset.state = j.state;
        var state = li.querySelector(".state");
        if (j.state === "queued" || j.state === "running") {
          state.textContent = j.state === "queued" ? li.dataset.textQueued
                                                   : li.dataset.textRunning;
          window.setTimeout(function () { poll(li); }, 1000);
          return;
        }
        if (j.state === "done") {
          state.textContent = li.dataset.textDone;
          var a = document.createElement("a");
          a.href = j.download;
          a.textContent = li.dataset.textDownload;
          var link = li.querySelector(".link");
          link.textContent = "";
          link.appendChild(a);
        } else if (j.state === "unknown") {
          state.textContent = li.dataset.textUnknown;
        } else {
          state.textContent = li.dataset.textFailed + (j.error || "");
        }
      })
      .catch(function () { window.setTimeout(function () { poll(li); }, 3000); });
  }
  document.querySelectorAll("li.job[data-state='queued'], li.job[data-state='running']")
    .forEach(poll);
}());
