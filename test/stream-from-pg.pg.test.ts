import { streamSuite } from './suites/stream-suite.js';

// A file of its own, so that the two PostgreSQL-center variants run side by side.
streamSuite(['postgresql', 'postgresql']);
