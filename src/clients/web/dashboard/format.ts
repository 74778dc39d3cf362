// Number and size formatting for the dashboard (the browser's locale, never raw floats).
const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const rates = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const fine = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** A whole count: 12,345. */
export function formatCount(n: number | bigint): string {
  return counts.format(n);
}

/** A rate or measure: one decimal above 10, two below (0.33, 12.5, 1,204.7). */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return Math.abs(n) < 10 && !Number.isInteger(n) ? fine.format(n) : rates.format(n);
}

const UNITS = ["bytes", "KiB", "MiB", "GiB"];

/** Bytes in binary units: 4 MiB, 812 bytes. */
export function formatBytes(n: number | bigint): string {
  let v = Number(n);
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${unit === 0 ? counts.format(v) : rates.format(v)} ${UNITS[unit]}`;
}

/** snake_case and camelCase keys as words: "messages_per_second" -> "Messages per second". */
export function humanKey(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .trim()
    .toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : key;
}
