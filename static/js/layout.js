// Photo grids in two layouts: "justified" (the default: rows of equal height, each photo at its own aspect ratio,
// like Flickr or Google Photos) and "grid" (square tiles, CSS grid). The choice is remembered in localStorage.
//
//   const layout = new GridLayout(gridElement);   // reads the remembered mode, sets grid.dataset.layout
//   gridElement.append(...cards); layout.add(cards);   // each card carries dataset.aspect (width / height)
//   layout.clear();  layout.toggle();  layout.dispose();
//
// Justified rows are placed with absolute positions. Appending never moves a card already in a complete row:
// only the open (incomplete, not stretched) last row is laid out again with the new cards. A change of the
// grid's width re-flows everything, and the first card visible at the top stays where it was on the screen.

const LAYOUT_KEY = "photonix.layout";
const MODES = ["justified", "grid"];
const DEFAULT_ROW_PX = 220;
const DEFAULT_GAP_PX = 10;
export const DEFAULT_ASPECT = 4 / 3;
const ASPECT_LIMITS = [0.1, 20];

const layouts = new Set();  // every grid on the page, for finding the card the visitor reads
const active = new Set();  // the justified ones, re-flowed when their width changes
const resizes = typeof ResizeObserver === "undefined" ? null : new ResizeObserver((entries) => reflowAll(entries));

export function savedMode() {
  const saved = localStorage.getItem(LAYOUT_KEY);
  return MODES.includes(saved) ? saved : "justified";  // an older "masonry" choice becomes justified
}

// width / height of a photo, kept in sane bounds; the given fallback (or 4:3) when the size is not known.
export function aspectOf(width, height, fallback = DEFAULT_ASPECT) {
  const ratio = width > 0 && height > 0 ? width / height : fallback;
  return Math.min(ASPECT_LIMITS[1], Math.max(ASPECT_LIMITS[0], ratio));
}

// Rows for these aspect ratios in `width` px at heights near `target`, `gap` px apart. A row closes when it is
// full; it takes the last photo or leaves it to the next row, whichever brings its height nearer the target
// (a panorama wider than the grid gets a row of its own, lower than the target, uncropped). Returns the
// complete rows ({start, end, height}; end exclusive) and `rest`, the index where the open last row begins.
export function justify(aspects, width, target, gap) {
  const rows = [];
  let start = 0;
  let sum = 0;
  for (let i = 0; i < aspects.length; i += 1) {
    sum += aspects[i];
    const count = i - start + 1;
    if (sum * target + gap * (count - 1) < width) continue;
    const withIt = (width - gap * (count - 1)) / sum;
    const without = count > 1 ? (width - gap * (count - 2)) / (sum - aspects[i]) : Infinity;
    if (Math.abs(Math.log(without / target)) < Math.abs(Math.log(withIt / target))) {
      rows.push({ start, end: i, height: without });
      i -= 1;  // this photo opens the next row: look at it again
    } else {
      rows.push({ start, end: i + 1, height: withIt });
    }
    start = rows.at(-1).end;
    sum = 0;
  }
  return { rows, rest: start };
}

// The height `count` photos not loaded yet will take in this grid (timeline months hold their place with it).
export function estimateHeight(grid, count, width) {
  const { row, gap } = metrics(grid);
  if (grid.dataset.layout === "justified") {
    const rows = Math.ceil((count * (DEFAULT_ASPECT * row + gap)) / (width + gap));
    return rows * (row + gap);
  }
  const cell = cssPx(document.documentElement, "--thumb", DEFAULT_ROW_PX);
  const columns = Math.max(1, Math.floor((width + gap) / (cell + gap)));
  const side = (width - gap * (columns - 1)) / columns;
  return Math.ceil(count / columns) * (side + gap);
}

export class GridLayout {
  constructor(grid) {
    this.grid = grid;
    this.cards = [];
    layouts.add(this);
    this.reset();
    this.apply(savedMode());
  }

  get mode() {
    return this.grid.dataset.layout;
  }

  // New cards, already in the grid, in order after the ones added before.
  add(cards) {
    this.cards.push(...cards);
    if (this.mode === "justified") this.place();
  }

  // The grid was emptied: start again from its top.
  clear() {
    this.cards = [];
    this.reset();
    if (this.mode === "justified") this.place();
  }

  toggle() {
    const mode = this.mode === "justified" ? "grid" : "justified";
    localStorage.setItem(LAYOUT_KEY, mode);
    keepReadingPosition(() => this.apply(mode));
  }

  dispose() {
    layouts.delete(this);
    active.delete(this);
    resizes?.unobserve(this.grid);
  }

  apply(mode) {
    this.grid.dataset.layout = mode;
    this.reset();
    if (mode === "justified") {
      active.add(this);
      resizes?.observe(this.grid);
      this.place();
      return;
    }
    active.delete(this);
    resizes?.unobserve(this.grid);
    for (const card of this.cards) for (const prop of ["left", "top", "width", "height"]) card.style.removeProperty(prop);
    for (const prop of ["height", "--laid"]) this.grid.style.removeProperty(prop);
    delete this.grid.dataset.width;
  }

  reset() {
    this.fixedCount = 0;  // cards in complete rows: they never move until the width changes
    this.fixedTop = 0;    // where the open row starts
    this.width = null;
  }

  // Lay out the open row and everything after it; all of it again when the grid's width changed (a scrollbar
  // that the new height brings is such a change: measured once more after placing).
  place() {
    for (let pass = 0; pass < 2; pass += 1) {
      const width = this.grid.clientWidth;
      if (width !== this.width) {
        this.reset();
        this.width = width;
      }
      this.placeFrom(this.fixedCount);
      if (this.grid.clientWidth === this.width) break;
    }
    this.grid.dataset.width = String(this.width);
    this.grid.dataset.placed = String(this.cards.length);
  }

  placeFrom(first) {
    const { row: target, gap } = metrics(this.grid);
    const aspects = this.cards.slice(first).map((card) => Number(card.dataset.aspect) || DEFAULT_ASPECT);
    const { rows, rest } = justify(aspects, this.width, target, gap);
    let top = this.fixedTop;
    for (const row of rows) {
      this.placeRow(first + row.start, first + row.end, top, row.height, gap, true);
      top += row.height + gap;
    }
    this.fixedCount = first + rest;
    this.fixedTop = top;
    const open = this.fixedCount < this.cards.length;
    if (open) this.placeRow(this.fixedCount, this.cards.length, top, target, gap, false);
    const height = open ? top + target : Math.max(0, top - gap);
    this.grid.style.height = `${height}px`;
    this.grid.style.setProperty("--laid", `${height}px`);
  }

  // Cards start..end side by side at `top`, `height` px tall; a full row's last card ends exactly at the edge.
  placeRow(start, end, top, height, gap, full) {
    let left = 0;
    for (let i = start; i < end; i += 1) {
      const card = this.cards[i];
      const last = full && i === end - 1;
      const width = last ? this.width - left : (Number(card.dataset.aspect) || DEFAULT_ASPECT) * height;
      Object.assign(card.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
      left += width + gap;
    }
  }
}

// Re-flow the justified grids whose width changed, keeping the first card seen at the top where it was.
function reflowAll(entries) {
  const changed = entries.map((entry) => [...active].find((layout) => layout.grid === entry.target))
    .filter((layout) => layout && layout.grid.clientWidth !== layout.width);
  if (changed.length) keepReadingPosition(() => changed.forEach((layout) => layout.place()));
}

// Run `change` (a re-flow) and scroll so the first card visible below the top bar is where it was on the screen.
export function keepReadingPosition(change) {
  const anchor = firstVisibleCard();
  const before = anchor?.getBoundingClientRect().top;
  change();
  if (anchor?.isConnected) window.scrollBy(0, anchor.getBoundingClientRect().top - before);
}

// The first card whose top is at or below the top bar's bottom edge (the top of what the visitor reads).
export function firstVisibleCard() {
  const top = viewTop();
  let best = null;
  let bestTop = Infinity;
  for (const layout of layouts) {
    for (const card of layout.cards) {
      const cardTop = card.getBoundingClientRect().top;
      if (cardTop < top - 0.5) continue;
      if (cardTop < bestTop && cardTop < window.innerHeight) [best, bestTop] = [card, cardTop];
      break;  // later cards of this grid are lower down
    }
  }
  return best;
}

// Where the page's visible part begins: below the sticky top bar.
export function viewTop() {
  return Math.max(0, document.querySelector(".topbar")?.getBoundingClientRect().bottom || 0);
}

function metrics(grid) {
  return { row: cssPx(grid, "--row", DEFAULT_ROW_PX), gap: cssPx(grid, "--gap", DEFAULT_GAP_PX) };
}

function cssPx(element, name, fallback) {
  const value = Number.parseFloat(getComputedStyle(element).getPropertyValue(name));
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}
