/** How the admin tables show sizes and times. */

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export function bytes(value: number | null): string {
  if (value === null || value === undefined) return "–";
  return value >= GiB ? `${(value / GiB).toFixed(1)} GiB` : `${Math.round(value / MiB)} MiB`;
}

/** "3 s", "4 min", "2 h", "5 d" since ``iso``. */
export function age(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "–";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

export function count(value: number | null): string {
  return value === null || value === undefined ? "–" : String(value);
}
