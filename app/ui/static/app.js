// The few things the pages do with JavaScript; each page works without it.
// Copy buttons: copy the text of the element named by data-copy.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.textContent = "Copied";
  });
});

// Live progress of a job: poll its JSON until it finished, then show the page it leads to. Without
// JavaScript the page refreshes itself (<meta http-equiv="refresh">).
const progress = document.querySelector("[data-progress-url]");
if (progress) {
  const poll = async () => {
    const response = await fetch(progress.dataset.progressUrl, { credentials: "same-origin" });
    if (response.ok) {
      const job = await response.json();
      document.getElementById("job-state").textContent = job.state;
      document.getElementById("job-counts").textContent = job.counts_text;
      if (job.finished) {
        window.location.assign(progress.dataset.doneUrl);
        return;
      }
    }
    setTimeout(poll, 500);
  };
  setTimeout(poll, 500);
}
