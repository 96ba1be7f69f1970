// Progressive enhancement only: every page works without this script.
// - [data-copy=ID]: copies the text of element ID to the clipboard;
// - [data-download=ID][data-filename=NAME]: saves the text of element ID as a file;
// - form[data-confirm=TEXT]: asks before posting.
"use strict";
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent).then(() => {
        copy.textContent = "Copied";
        setTimeout(() => { copy.textContent = "Copy"; }, 2000);
      });
    }
    return;
  }
  const download = event.target.closest("[data-download]");
  if (download) {
    const source = document.getElementById(download.dataset.download);
    if (!source) return;
    const url = URL.createObjectURL(new Blob([source.textContent + "\n"], { type: "text/plain" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = download.dataset.filename || "download.txt";
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
