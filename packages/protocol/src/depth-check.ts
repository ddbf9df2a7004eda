/**
 * How deep a frame may nest objects and arrays, the frame itself being level 1: a batch's frame, entries, entry and
 * pk or after-image take 4 levels, so a value in a row has 28 of its own. Far more than any row needs, and small
 * enough that everything after decoding (the applier's key writer, JSON.stringify, equality checks) may recurse
 * into a value without ever nearing the stack's limit. JSON.parse itself takes any depth without overflowing.
 */
export const MAX_FRAME_DEPTH = 32;

/**
 * Where a parsed frame nests deeper than MAX_FRAME_DEPTH: the path to the too-deep value (its first levels), or
 * undefined when it does not. The walk recurses, but never deeper than the limit it enforces. Only objects and
 * arrays are descended into, so scalars (most of a batch) cost one typeof each.
 */
export function tooDeepAt(value: unknown): string | undefined {
  const path = walk(value, 1);
  return path === undefined ? undefined : path.slice(0, PATH_SHOWN).join('.') + (path.length > PATH_SHOWN ? '…' : '');
}

/** Path segments shown in a message: enough to name the field, never the thousands of levels a hostile value has. */
const PATH_SHOWN = 6;

function walk(value: unknown, depth: number): string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_FRAME_DEPTH) return [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== 'object' || item === null) continue;
      const inner = walk(item, depth + 1);
      if (inner) return [String(i), ...inner];
    }
    return undefined;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    if (typeof item !== 'object' || item === null) continue;
    const inner = walk(item, depth + 1);
    if (inner) return [key, ...inner];
  }
  return undefined;
}
