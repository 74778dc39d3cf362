// A live two-series line chart drawn as SVG (no library): messages per second on the left axis and
// open streams on the right, each scaled to its own maximum over the visible window.
const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 144;
const PAD = { top: 10, right: 44, bottom: 20, left: 44 };

export interface Sample {
  at: number; // ms since epoch
  a: number;
  b: number;
}

function node<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** A nice upper bound for an axis: 1, 2, 5 x 10^k at or above `max` (at least 1). */
export function niceCeil(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

export class LiveChart {
  private readonly samples: Sample[] = [];

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly capacity: number,
    private readonly format: (n: number) => string,
  ) {
    new ResizeObserver(() => this.draw()).observe(svg);
  }

  push(sample: Sample): void {
    const last = this.samples[this.samples.length - 1];
    if (last && sample.at <= last.at) return; // a replayed sample (the feed reloads after a reconnect)
    this.samples.push(sample);
    while (this.samples.length > this.capacity) this.samples.shift();
    this.draw();
  }

  clear(): void {
    this.samples.length = 0;
    this.draw();
  }

  get size(): number {
    return this.samples.length;
  }

  draw(): void {
    const width = Math.max(120, Math.round(this.svg.clientWidth || 320));
    this.svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const w = width - PAD.left - PAD.right;
    const h = HEIGHT - PAD.top - PAD.bottom;
    const maxA = niceCeil(Math.max(0, ...this.samples.map((s) => s.a)));
    const maxB = niceCeil(Math.max(0, ...this.samples.map((s) => s.b)));
    const parts: SVGElement[] = [];
    for (const f of [0, 0.5, 1]) {
      const y = PAD.top + h * (1 - f);
      parts.push(node("line", { class: "grid", x1: PAD.left, x2: PAD.left + w, y1: y, y2: y }));
      parts.push(node("text", { class: "axis", x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, this.format(maxA * f)));
      parts.push(node("text", { class: "axis", x: PAD.left + w + 6, y: y + 4, "text-anchor": "start" }, this.format(maxB * f)));
    }
    const n = this.samples.length;
    if (n > 0) {
      const first = this.samples[0]!.at;
      const span = Math.max(1, this.samples[n - 1]!.at - first);
      const x = (s: Sample) => (n === 1 ? PAD.left + w : PAD.left + ((s.at - first) / span) * w);
      const line = (value: (s: Sample) => number, max: number) =>
        this.samples.map((s) => `${x(s).toFixed(1)},${(PAD.top + h * (1 - value(s) / max)).toFixed(1)}`).join(" ");
      parts.push(node("polyline", { class: "a", points: line((s) => s.a, maxA) }));
      parts.push(node("polyline", { class: "b", points: line((s) => s.b, maxB) }));
      const seconds = Math.round(span / 1000);
      parts.push(node("text", { class: "axis", x: PAD.left, y: HEIGHT - 4 }, n === 1 ? "now" : `${seconds} s ago`));
      parts.push(node("text", { class: "axis", x: PAD.left + w, y: HEIGHT - 4, "text-anchor": "end" }, "now"));
    } else {
      parts.push(node("text", { class: "axis", x: PAD.left + w / 2, y: PAD.top + h / 2, "text-anchor": "middle" }, "waiting for the first sample…"));
    }
    this.svg.replaceChildren(...parts);
  }
}
