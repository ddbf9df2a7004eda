export { type BackoffOptions, backoffDelay } from './backoff.js';
export { HeadReporter, type HeadReporterOptions } from './head-reporter.js';
export { notifyTriggerSql } from './notify-trigger.js';
export { type BatchLimits, OutboxReader } from './outbox-reader.js';
export { createProducer, Producer, type ProducerOptions, type ProducerState, type ProducerStatus } from './producer.js';
export { type ProducerReport, ProducerStatusServer, producerReport } from './status-server.js';
export { type Wakeup, watchCommits } from './wakeup.js';
