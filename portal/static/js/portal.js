// Small progressive enhancements; every page works without this file (CSP: no inline scripts).
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("[data-autosubmit]") && field.form) field.form.requestSubmit();
});

// Export progress page: poll the job's JSON status and update the bar; show the download link when ready.
(() => {
  const box = document.querySelector("[data-export-status]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const rows = box.querySelector("[data-export-rows]");
  const badge = box.querySelector(".badge");
  const download = box.querySelector("[data-export-download]");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.exportStatus, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const status = await response.json();
      bar.value = status.progress;
      bar.textContent = `${status.progress} %`;
      if (rows) rows.textContent = status.rows_done.toLocaleString();
      if (badge) { badge.textContent = status.status_label; badge.className = `badge ${status.status}`; }
      if (status.status === "ready") { download.hidden = false; return; }
      if (status.status === "failed") { window.location.reload(); return; }
    } catch (error) { /* network hiccup: try again */ }
    window.setTimeout(poll, 1500);
  };
  if (box.querySelector(".badge.pending, .badge.running")) window.setTimeout(poll, 1000);
})();
