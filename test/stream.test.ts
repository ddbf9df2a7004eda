import { streamSuite } from './suites/stream-suite.js';

streamSuite(['sqlite', 'sqlite']);
