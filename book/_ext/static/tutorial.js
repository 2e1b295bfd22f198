// Tap or click a figure to open it at full size (figures are drawn for a
// 690 px column; on a phone their labels are small).
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll(".bd-article figure img")) {
    img.style.cursor = "zoom-in";
    img.title = img.title || "Open the figure at full size";
    img.addEventListener("click", () => window.open(img.src, "_blank"));
  }
});


// A table wider than the column scrolls sideways; say so above it, so the
// columns out of view are not mistaken for missing ones.
function markWideTables() {
  for (const table of document.querySelectorAll(".bd-article table")) {
    const wide = table.scrollWidth > table.clientWidth + 1;
    let hint = table.previousElementSibling;
    if (!(hint && hint.classList.contains("cnn-scroll-hint"))) {
      if (!wide) continue;
      hint = document.createElement("p");
      hint.className = "cnn-scroll-hint";
      hint.textContent = "The table is wider than the screen: scroll it sideways →";
      table.before(hint);
    }
    hint.hidden = !wide;
  }
}
document.addEventListener("DOMContentLoaded", markWideTables);
window.addEventListener("resize", markWideTables);
