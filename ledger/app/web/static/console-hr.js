// Report generation progress on /console/campaigns/<c>/reports: polls each running
// job's JSON status and shows the download link when the report is ready.
(function () {
  "use strict";
  function poll(li) {
    fetch("/console/report-jobs/" + encodeURIComponent(li.dataset.job) + ".json",
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        li.dataset.state = j.state;
        var state = li.querySelector(".state");
        if (j.state === "running") {
          state.textContent = li.dataset.textRunning;
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
        } else {
          state.textContent = li.dataset.textFailed + " " + (j.error || "");
        }
      })
      .catch(function () { window.setTimeout(function () { poll(li); }, 3000); });
  }
  document.querySelectorAll("li.job[data-state='running']").forEach(poll);
}());
