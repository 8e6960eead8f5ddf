// Keyboard access to code and output that scrolls (axe: scrollable-region-focusable).
// The theme gives each scrollable block tabindex=0 when the page loads, but a
// block inside a framework tab that is not selected, or inside a closed
// solution, cannot scroll then. Redo the theme's check whenever a tab is
// chosen or a solution opens or closes.
(() => {
  const BLOCKS = "pre, .cell_output > .output, .pst-scrollable-table-container";
  const update = () => {
    document.querySelectorAll(BLOCKS).forEach((el) => {
      const scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      el.tabIndex = scrolls ? 0 : -1;
    });
  };
  // Bubbling, so sphinx-design has already switched every synced tab-set.
  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.closest(".sd-tab-set")) update();
  });
  document.addEventListener("toggle", update, true);  // <details> toggle does not bubble
  window.addEventListener("hashchange", () => setTimeout(update));
  window.addEventListener("load", update);
})();
