export { Producer, createProducer, type ProducerOptions, type ProducerState, type ProducerStatus } from './producer.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { OutboxReader, type BatchLimits } from './outbox-reader.js';
export { watchCommits, type Wakeup } from './wakeup.js';
