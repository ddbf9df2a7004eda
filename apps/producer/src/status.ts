import type { ProducerReport } from '@oplog/producer';
import { CliFailure, ConfigError, loadConfig } from '@oplog/runtime';
import { commandConfigSchema, configSources } from './config.js';

interface StatusFlags {
  config?: string;
  statusUrl?: string;
  json?: boolean;
}

/** `oplog-producer status`: asks a running producer's status endpoint, and prints what it says. */
export async function printStatus(flags: StatusFlags): Promise<void> {
  const report = await fetchReport(statusUrl(flags));
  if (flags.json) return console.log(JSON.stringify(report));
  const age = report.oldestUnackedAgeMs;
  const since = report.connectedAt ? ` since ${new Date(report.connectedAt).toISOString()}` : '';
  const { lastError } = report;
  console.log(`state            ${report.state}${since}`);
  console.log(`source           ${report.sourceId} (incarnation ${report.incarnation})`);
  console.log(`backlog          ${report.backlog} changes (head ${report.headSeq}, acked ${report.ackedSeq})`);
  console.log(`oldest unacked   ${age === 0 ? 'none: caught up' : `${(age / 1000).toFixed(1)} s old`}`);
  console.log(`outbox           ${report.outboxEntries} entries`);
  console.log(
    `last error       ${lastError ? `${lastError.code}: ${lastError.message} (${new Date(lastError.at).toISOString()})` : 'none'}`,
  );
}

/** --status-url, else the config's status.host and status.port: where the running producer serves /status. */
function statusUrl(flags: StatusFlags): URL {
  if (flags.statusUrl === undefined) {
    const { status } = loadConfig(commandConfigSchema, configSources({ config: flags.config }));
    if (status.port === undefined) {
      throw new ConfigError(
        'say where the producer serves its status: --status-url, or status.port (OPLOG_STATUS__PORT)',
      );
    }
    return new URL(`http://${status.host}:${status.port}`);
  }
  const url = URL.canParse(flags.statusUrl) ? new URL(flags.statusUrl) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new ConfigError(
      `--status-url: expected the producer's status address, http://host:port (such as http://127.0.0.1:7421), got ${JSON.stringify(flags.statusUrl)}`,
    );
  }
  return url;
}

async function fetchReport(base: URL): Promise<ProducerReport> {
  const url = new URL('/status', base);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliFailure(
      `no producer answers at ${url.origin} (${cause?.code ?? cause?.message ?? (error as Error).message}): is it running, with status.port set to this port?`,
    );
  }
  const report = (await response.json().catch(() => undefined)) as ProducerReport | undefined;
  if (!response.ok || typeof report?.backlog !== 'number') {
    throw new CliFailure(
      `${url.href} is not a producer's status (HTTP ${response.status}${report ? '' : ', not JSON'}): give the producer's status.port, not another service's`,
    );
  }
  return report;
}
