import { snapshotSuite } from './suites/snapshot-suite.js';

snapshotSuite(['postgresql', 'postgresql']);
