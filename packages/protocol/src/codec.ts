import type { z } from 'zod';
import { checkBatch } from './batch-check.js';
import { tooDeepAt } from './depth-check.js';
import { OplogError } from './errors.js';
import { type ConsumerFrame, consumerFrameSchema, type ProducerFrame, producerFrameSchema } from './frames.js';

export function encodeFrame(frame: ProducerFrame | ConsumerFrame): string {
  return JSON.stringify(frame);
}

/** Parses and strictly validates a frame from the producer; throws an OplogError with a stable code. */
export function decodeProducerFrame(data: string): ProducerFrame {
  return decode(producerFrameSchema, data, true);
}

/** Parses and strictly validates a frame from the consumer; throws an OplogError with a stable code. */
export function decodeConsumerFrame(data: string): ConsumerFrame {
  return decode(consumerFrameSchema, data);
}

function decode<T>(schema: z.ZodType<T>, data: string, batches = false): T {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (cause) {
    throw OplogError.badJson(cause);
  }
  // Before anything that may recurse into a value: a hostile one nested thousands deep would overflow the stack.
  const deep = tooDeepAt(value);
  if (deep !== undefined) throw OplogError.nestedTooDeep(deep);
  // Batches, the bulk of the traffic, are checked by hand to the same rules (see batch-check.ts).
  if (batches && typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'batch') {
    return checkBatch(value as Record<string, unknown>) as T;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'invalid_union' && issue.path.length === 1 && issue.path[0] === 'type') {
    throw OplogError.unknownFrame((value as { type?: unknown }).type);
  }
  const where = issue?.path.length ? issue.path.join('.') : 'frame';
  throw OplogError.badFrame(`${where}: ${issue?.message ?? 'invalid'}`);
}
