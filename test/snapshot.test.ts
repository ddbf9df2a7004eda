import { snapshotSuite } from './suites/snapshot-suite.js';

snapshotSuite(['sqlite', 'sqlite']);
