import { BigIntType, type EntityProperty, UuidType } from '@mikro-orm/core';
import { type Json, OplogError } from '@oplog/protocol';

/**
 * One key column's value in the single spelling the center's databases compare equal. Ownership, staging and the
 * rows themselves identify a row by it, so that no other spelling of a key (an upper-case or braced UUID, a number
 * sent as text) can reach a row another source owns, and both center drivers store the same thing: PostgreSQL
 * compares a uuid by value, SQLite by its text. Throws OPLOG_BAD_FRAME for a value the column cannot hold.
 */
export type Canonical = (value: Json) => Json;

const HEX32 = /^[0-9a-f]{32}$/i;
const INTEGER_TEXT = /^[+-]?\d+$/;

/** The canonical form of a primary key column (or of the key a relation column points at). */
export function keyCanonical(where: string, prop: EntityProperty): Canonical {
  if (isUuid(prop)) {
    return (value) => {
      // PostgreSQL reads braces, upper case, and hyphens anywhere between groups as the same uuid.
      const hex = typeof value === 'string' ? value.replace(/^\{(.*)\}$/, '$1').replaceAll('-', '') : '';
      if (!HEX32.test(hex)) throw badValue(where, value);
      const h = hex.toLowerCase();
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    };
  }
  if (prop.customType instanceof BigIntType || prop.type === 'bigint') {
    return (value) => {
      if (Number.isSafeInteger(value)) return value;
      if (typeof value !== 'string' || !INTEGER_TEXT.test(value)) throw badValue(where, value);
      const big = BigInt(value);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big.toString();
    };
  }
  switch (prop.runtimeType) {
    case 'number':
      return (value) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw badValue(where, value);
        return value;
      };
    case 'boolean':
      return (value) => {
        if (typeof value !== 'boolean' && value !== 0 && value !== 1) throw badValue(where, value);
        return !!value;
      };
    case 'Date':
      return (value) => {
        const date = typeof value === 'number' || typeof value === 'string' ? new Date(value) : undefined;
        if (!date || Number.isNaN(date.getTime())) throw badValue(where, value);
        return date.getTime();
      };
    case 'string':
      return (value) => {
        if (typeof value !== 'string') throw badValue(where, value);
        return value;
      };
    default:
      // A custom type: its own conversion decides what the database compares; only a scalar can be a key part.
      return (value) => {
        if (typeof value === 'object' && value !== null) throw badValue(where, value);
        return value;
      };
  }
}

function isUuid(prop: EntityProperty): boolean {
  return (
    prop.customType instanceof UuidType ||
    prop.type?.toLowerCase() === 'uuid' ||
    prop.columnTypes?.[0]?.toLowerCase() === 'uuid'
  );
}

/** OPLOG_BAD_FRAME for a value a column cannot hold. */
export function badValue(where: string, value: Json): OplogError {
  // Never serialize a structure to describe it: a hostile value nested thousands deep would overflow the stack.
  const shown = typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'an array' : 'an object') : value;
  return OplogError.badFrame(`${where}: cannot store ${JSON.stringify(shown)?.slice(0, 60)}`);
}
