export { Consumer, createConsumer } from './consumer.js';
export type { ConsumerOptions } from './consumer-options.js';
export {
  type CredentialInfo,
  CredentialStore,
  OplogSourceCredential,
  type Refusal,
  type Verification,
  type VerifiedCredential,
} from './credential-store.js';
export type { TlsFiles } from './edge-server.js';
export { bookkeepingEntities, consumerEntities } from './tables.js';
export { type AuthMode, checkAuthMode } from './upgrade-auth.js';
