const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

export const count = (n: number): string => integer.format(n);
/** For chart axes: 1.2K, 150K. */
export const short = (n: number): string => compact.format(n);

/** A duration for people: 0 s, 850 ms, 12 s, 4 min 05 s, 3 h 20 min, 2 d 4 h. */
export function duration(ms: number): string {
  if (ms <= 0) return '0 s';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${decimal.format(ms / 1000)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function ago(at: number | null, now: number): string {
  if (at === null) return 'never';
  const ms = now - at;
  return ms < 1500 ? 'just now' : `${duration(ms)} ago`;
}

/** A lag figure: as is when known, else as a floor ("≥ n"), and "unknown" when the floor is 0. */
export function atLeast(known: boolean, value: number, text: string): string {
  if (known) return text;
  return value > 0 ? `≥ ${text}` : 'unknown';
}

export const rate = (perSecond: number): string => (perSecond > 0 ? `${decimal.format(perSecond)}/s` : '–');

/** A time of day to the second, in the reader's locale. */
export function clock(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A date and a time to the second, in the reader's locale. */
export function dateTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
