// Tap or click a figure to open it at full size (figures are drawn for a
// 690 px column; on a phone their labels are small).
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll(".bd-article figure img")) {
    img.style.cursor = "zoom-in";
    img.title = img.title || "Open the figure at full size";
    img.addEventListener("click", () => window.open(img.src, "_blank"));
  }
});

