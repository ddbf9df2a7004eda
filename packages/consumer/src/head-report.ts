import type { IncomingMessage } from 'node:http';
import { type HeadReport, headReportSchema } from '@oplog/protocol';
import type { SourceReplay } from '@oplog/replay';
import type { Verification } from './credential-store.js';
import type { ANONYMOUS } from './upgrade-auth.js';

/** A report is a few hundred bytes; anything longer is not one. */
const MAX_BODY = 4096;

/**
 * Handles `POST /api/head` from a local app (see HeadReporter): the same credential as its producer's, then the
 * report, which `apply` takes when it names a known source and incarnation. Returns the HTTP status.
 */
export async function receiveHeadReport(
  req: IncomingMessage,
  authenticate: (req: IncomingMessage) => Promise<Verification | typeof ANONYMOUS>,
  apply: (report: HeadReport) => boolean,
): Promise<number> {
  const auth = await authenticate(req);
  if (!auth.ok) return 401;
  let report: HeadReport;
  try {
    report = headReportSchema.parse(JSON.parse(await readBody(req)));
  } catch {
    return 400;
  }
  if ('credential' in auth && auth.credential.sourceId !== report.source) return 401;
  return apply(report) ? 204 : 409;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_BODY) throw new Error('too long');
  }
  return body;
}

/**
 * Takes a report for a known source of the same incarnation: the head moves on (never back: a report can cross a
 * batch that went further) and is known again for HEAD_REPORT_TTL_MS (see isHeadKnown). Returns whether the head
 * moved, or undefined when the report is refused.
 */
export function takeHeadReport(
  state: SourceReplay | undefined,
  { incarnation, head }: HeadReport,
  now = Date.now(),
): boolean | undefined {
  if (!state || state.cursor.incarnation !== incarnation) return undefined;
  return state.reportHead(head, now);
}
