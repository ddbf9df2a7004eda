const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90d`, `12h`, `30m`, `45s`, `500ms`, or a bare number of milliseconds, as milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? 'ms']! : Number.NaN;
  if (!(ms > 0) || !Number.isSafeInteger(Math.round(ms))) {
    throw new TypeError(`${JSON.stringify(text)} is not a duration (e.g. 90d, 12h, 30m, 45s, 500ms, or milliseconds)`);
  }
  return Math.round(ms);
}
