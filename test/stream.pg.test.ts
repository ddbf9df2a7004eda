import { streamSuite } from './suites/stream-suite.js';

streamSuite(['sqlite', 'postgresql']);
