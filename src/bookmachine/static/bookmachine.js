// The book's reading controls, on top of sphinx-design's synced tabs.
//
// Frameworks come from the page itself: every framework tab label carries
// data-sync-group="framework" and data-sync-id=KEY. The chosen framework lives
// where sphinx-design keeps it (localStorage PREFIX + "framework", and the URL's
// ?framework=KEY, which it reads on load), so the tabs, the header picker and
// every page of the book agree. This file adds:
// - a picker in the page header (a labelled native <select>), a second one for
//   compare mode, and a link to the chosen framework's PDF;
// - compare mode: a second framework (?compare=KEY, stored beside the first)
//   whose panel every framework tab-set shows beside the chosen one, with the
//   room the screen has (the left navigation folds where the panels need it);
// - a compact selector in place of a tab row that would wrap onto more lines
//   (phones);
// - keyboard access to code and output that scrolls.
(() => {
  const GROUP = "framework";
  const COMPARE = "compare"; // URL parameter and storage suffix of compare mode
  const tabsScript = document.querySelector("script[data-sd-tabs-storage-prefix]");
  // sphinx-design's own prefix; empty means "remember nothing", for us too.
  const PREFIX = tabsScript ? tabsScript.getAttribute("data-sd-tabs-storage-prefix") : "sphinx-design-tab-id-";

  const stored = (name) => {
    if (!PREFIX) return null;
    try { return localStorage.getItem(PREFIX + name); } catch (e) { return null; }
  };
  const store = (name, value) => {
    if (!PREFIX) return;
    try {
      if (value) localStorage.setItem(PREFIX + name, value);
      else localStorage.removeItem(PREFIX + name);
    } catch (e) { /* storage blocked: the choice lasts for this page only */ }
  };

  // --- keyboard access to blocks that scroll (axe: scrollable-region-focusable) ---
  // The theme gives each scrollable block tabindex=0 once, when the page loads,
  // but a block in a tab that is not shown, or in a closed solution, cannot
  // scroll then. Check again whenever what is shown changes.
  const BLOCKS = "pre, .cell_output > .output, .pst-scrollable-table-container";
  const updateScrollFocus = () => {
    document.querySelectorAll(BLOCKS).forEach((el) => {
      const scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      el.tabIndex = scrolls ? 0 : -1;
    });
  };

  // --- the page's framework tab-sets ----------------------------------------------
  const labelSelector = `label.sd-tab-label[data-sync-group="${GROUP}"]`;
  const inputOf = (label) => document.getElementById(label.htmlFor) || label.previousElementSibling;
  const panelOf = (label) => label.nextElementSibling;
  const labelsIn = (set) => [...set.querySelectorAll(`:scope > ${labelSelector}`)];
  const tabSets = [...new Set([...document.querySelectorAll(labelSelector)].map((l) => l.parentElement))];
  const frameworks = []; // [{key, label}] in the order the page shows them
  document.querySelectorAll(labelSelector).forEach((l) => {
    const key = l.getAttribute("data-sync-id");
    if (!frameworks.some((fw) => fw.key === key)) frameworks.push({ key, label: l.textContent.trim() });
  });
  const known = (key) => frameworks.some((fw) => fw.key === key);
  const labelOf = (key) => (frameworks.find((fw) => fw.key === key) || {}).label || key;

  const chosen = () => {
    for (const set of tabSets) {
      const label = labelsIn(set).find((l) => inputOf(l).checked);
      if (label) return label.getAttribute("data-sync-id");
    }
    return stored(GROUP) || (frameworks[0] && frameworks[0].key);
  };

  let current = null; // the chosen framework, as last reflected
  let compare = "";   // the second framework in compare mode; "" when off

  // Choose `key` everywhere: one tab's radio input, checked and announced, and
  // sphinx-design syncs every tab-set on the page and stores the choice.
  const choose = (key) => {
    const label = document.querySelector(`${labelSelector}[data-sync-id="${CSS.escape(key)}"]`);
    if (label) {
      const input = inputOf(label);
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    } else {
      store(GROUP, key);
      reflect();
    }
  };

  const COMPARE_KEY = `${GROUP}-${COMPARE}`; // storage key of compare mode
  const setCompare = (key) => {
    compare = key && known(key) && key !== current ? key : "";
    store(COMPARE_KEY, compare);
    reflect();
  };

  // --- the header controls ------------------------------------------------------
  const controls = {};
  const buildControls = () => {
    const box = document.createElement("div");
    box.className = "bm-reader-controls";
    // `short` stands in for `text` on phones, for the eye only (screen readers keep `text`).
    const select = (id, text, short, options) => {
      const label = document.createElement("label");
      label.htmlFor = id;
      label.className = "bm-control-label";
      const long = document.createElement("span");
      long.className = "bm-long";
      long.textContent = text;
      label.append(long);
      if (short) {
        const brief = document.createElement("span");
        brief.className = "bm-short";
        brief.setAttribute("aria-hidden", "true");
        brief.textContent = short;
        label.append(brief);
      }
      const el = document.createElement("select");
      el.id = id;
      el.className = "bm-select";
      options.forEach(([value, name]) => el.add(new Option(name, value)));
      box.append(label, el);
      return el;
    };
    const list = frameworks.map((fw) => [fw.key, fw.label]);
    controls.framework = select("bm-framework", "Framework", "", list);
    controls.compare = select("bm-compare", "Compare with", "vs", [["", "none"], ...list]);
    controls.framework.addEventListener("change", () => {
      if (controls.framework.value === compare) compare = current; // swap the two
      choose(controls.framework.value);
    });
    controls.compare.addEventListener("change", () => setCompare(controls.compare.value));
    // The chosen framework's PDF of the whole chapter (written by `python -m bookmachine pdf`).
    controls.pdf = document.createElement("a");
    controls.pdf.className = "bm-pdf-link";
    controls.pdf.append("PDF");
    controls.pdfName = document.createElement("span");
    controls.pdfName.className = "bm-visually-hidden";
    controls.pdf.append(controls.pdfName);
    box.append(controls.pdf);

    const header = document.querySelector(".header-article-items__start");
    const item = document.createElement("div");
    item.className = "header-article-item bm-reader-item";
    item.append(box);
    if (header) header.append(item);
    else document.body.prepend(item);
    controls.box = box;
  };

  // The controls share the theme's header row while every name in them shows
  // whole. Where they would run into the theme's buttons (a phone, a column
  // narrowed by the sidebars) they take a row of their own below them: measured,
  // like the tab rows, because it depends on the names, the fonts and the sidebars.
  const fitHeader = () => {
    const header = document.querySelector(".bd-header-article");
    const buttons = header && header.querySelector(".header-article-items__end");
    if (!controls.box || !buttons) return;
    header.classList.remove("bm-two-rows");
    const crowded = controls.box.getBoundingClientRect().right > buttons.getBoundingClientRect().left;
    header.classList.toggle("bm-two-rows", crowded);
    // An anchor scrolled to must land below the taller header, not under it.
    document.documentElement.style.scrollPaddingTop = crowded ? `${header.offsetHeight + 16}px` : "";
  };

  // The theme binds its sidebar buttons with querySelector, so only the top bar's,
  // hidden on wide screens: the article header's buttons do nothing (sphinx-book-theme
  // #935, pydata-sphinx-theme #2451). A click on one goes to the bound one instead.
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".bd-header-article .sidebar-toggle");
    const kind = button && [".primary-toggle", ".secondary-toggle"].find((k) => button.matches(k));
    const bound = kind && document.querySelector(kind);
    if (!bound || bound === button) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    bound.click();
  }, true);

  // --- compact selectors where a tab row would wrap -----------------------------
  const compactSelects = new Map(); // tab-set -> its <select>
  const addCompactSelect = (set) => {
    const el = document.createElement("select");
    el.className = "bm-select bm-tab-select";
    el.setAttribute("aria-label", "Framework");
    labelsIn(set).forEach((l) => el.add(new Option(l.textContent.trim(), l.getAttribute("data-sync-id"))));
    el.addEventListener("change", () => {
      if (el.value === compare) compare = current;
      const label = labelsIn(set).find((l) => l.getAttribute("data-sync-id") === el.value);
      const input = inputOf(label);
      input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    set.prepend(el);
    compactSelects.set(set, el);
  };
  // A tab row that does not fit on one line becomes a select. Measured, not
  // guessed: it depends on the labels, the fonts and the room the set has.
  const fitTabRows = () => {
    for (const set of tabSets) {
      if (!set.getClientRects().length) continue; // hidden (closed solution): measured on opening
      set.classList.remove("bm-compact");
      const labels = labelsIn(set);
      const tops = new Set(labels.map((l) => l.offsetTop));
      const right = set.getBoundingClientRect().right;
      const overflows = labels.some((l) => l.getBoundingClientRect().right > right + 1);
      set.classList.toggle("bm-compact", tops.size > 1 || overflows);
    }
  };

  // --- compare mode: room for two panels ----------------------------------------
  // The CSS gives the two panels the page's width. Where they would still hold
  // fewer than LINE characters of code, the left navigation folds: the theme's own
  // collapsed state, so its header button brings it back in one click. Measured on
  // a probe code block, so every page folds alike, with or without code.
  const LINE = 88; // the longest code line the chapter allows (tests/test_code_lines.py)
  const canvas = document.createElement("canvas").getContext("2d");
  let navFolded = false;   // folded by us: unfolded when compare mode ends
  let navByReader = false; // the reader used its button while comparing: theirs to decide
  const codeRoom = () => {
    const panel = [...document.querySelectorAll(".bm-compare > .sd-tab-content.bm-compared")]
      .find((p) => p.checkVisibility());
    if (!panel) return Infinity;
    const probe = document.createElement("div");
    probe.className = "cell docutils container"; // as MyST-NB draws a code cell
    probe.innerHTML = '<div class="highlight-python notranslate"><div class="highlight"><pre></pre></div></div>';
    panel.append(probe);
    const pre = probe.querySelector("pre");
    const style = getComputedStyle(pre);
    canvas.font = style.font;
    const room = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    probe.remove();
    return Math.floor(room / canvas.measureText("0").width);
  };
  const fitCompare = () => {
    // The theme's sidebar, unless it is shown as a dialog now (the theme moves its classes there).
    const nav = document.querySelector("#pst-primary-sidebar.bd-sidebar-primary");
    const comparing = document.documentElement.classList.contains("bm-comparing");
    if (!comparing) navByReader = false;
    if (!nav || navByReader) return;
    nav.style.transition = "none"; // measured as it will be, not halfway through a slide
    if (navFolded) nav.classList.remove("pst-sidebar-hidden");
    // Where the theme folds it (the test its own button makes), and not if the reader already did.
    navFolded = comparing && window.matchMedia("(min-width: 992px)").matches
      && !nav.classList.contains("pst-sidebar-hidden") && codeRoom() < LINE;
    if (navFolded) nav.classList.add("pst-sidebar-hidden");
    void nav.offsetWidth; // applied before the transition comes back
    nav.style.transition = "";
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest(".primary-toggle") && document.documentElement.classList.contains("bm-comparing")) {
      navByReader = true;
      navFolded = false;
    }
  }, true); // capture: the theme's own handler stops the click

  // --- show the state everywhere ------------------------------------------------
  const reflect = () => {
    current = chosen();
    if (compare === current) compare = "";
    if (controls.framework) {
      controls.framework.value = current;
      controls.compare.value = compare;
      // The chosen framework cannot be compared with itself.
      [...controls.compare.options].forEach((o) => { o.disabled = o.value !== "" && o.value === current; });
      const root = document.documentElement.dataset.content_root || "";
      controls.pdf.href = `${root}_pdf/${encodeURIComponent(current)}.pdf`;
      controls.pdfName.textContent = ` of the whole chapter, ${labelOf(current)} only`;
    }
    compactSelects.forEach((el) => { el.value = current; });
    for (const set of tabSets) {
      const labels = labelsIn(set);
      const hasBoth = !!compare && labels.some((l) => l.getAttribute("data-sync-id") === compare);
      set.classList.toggle("bm-compare", hasBoth);
      labels.forEach((l) => {
        const isCompared = hasBoth && l.getAttribute("data-sync-id") === compare;
        l.classList.toggle("bm-compared", isCompared);
        panelOf(l).classList.toggle("bm-compared", isCompared);
        panelOf(l).dataset.bmFramework = l.textContent.trim(); // caption in compare mode
      });
    }
    // The page widens where it shows two panels side by side.
    document.documentElement.classList.toggle("bm-comparing", tabSets.some((s) => s.classList.contains("bm-compare")));
    // The URL names what the reader sees, so a copied link shows the same.
    const url = new URL(window.location.href);
    url.searchParams.set(GROUP, current);
    if (compare) url.searchParams.set(COMPARE, compare);
    else url.searchParams.delete(COMPARE);
    if (url.href !== window.location.href) history.replaceState(history.state, "", url.href);
    fit();
  };
  // Everything measured, in the order the layout depends on it.
  const fit = () => { fitCompare(); fitHeader(); fitTabRows(); updateScrollFocus(); };

  // Runs after sphinx-design's own DOMContentLoaded handler (its script is not
  // deferred, this one is), so the tabs already show the stored or URL choice.
  document.addEventListener("DOMContentLoaded", () => {
    if (!frameworks.length) return;
    const param = new URLSearchParams(window.location.search).get(COMPARE);
    current = chosen();
    compare = param !== null ? param : stored(COMPARE_KEY) || "";
    if (!known(compare) || compare === current) compare = "";
    store(COMPARE_KEY, compare);
    buildControls();
    tabSets.forEach(addCompactSelect);
    reflect();
  });

  // A tab chosen anywhere (click, keyboard, the selects above): follow it. Bubbling,
  // so sphinx-design has already switched every synced tab-set.
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.closest(".sd-tab-set")) return;
    const label = input.nextElementSibling;
    if (label && label.matches(labelSelector) && input.checked) {
      const key = label.getAttribute("data-sync-id");
      if (key === compare) compare = current; // the compared tab clicked: swap the two
      store(COMPARE_KEY, compare);
    }
    reflect();
  });
  // A page restored from the back/forward cache shows the state of when it was
  // left: take the choice made since on other pages.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted || !frameworks.length) return;
    const key = stored(GROUP);
    compare = stored(COMPARE_KEY) || "";
    if (key && key !== chosen() && known(key)) choose(key);
    else reflect();
  });
  document.addEventListener("toggle", () => { fitTabRows(); updateScrollFocus(); }, true); // <details> toggle does not bubble
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(fit, 100);
  });
  window.addEventListener("hashchange", () => setTimeout(updateScrollFocus));
  window.addEventListener("load", fit);
  document.fonts.ready.then(fit); // a web font may widen the labels
})();
