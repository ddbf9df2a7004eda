import { streamSuite } from './suites/stream-suite.js';

streamSuite('sqlite', 'postgresql');
streamSuite('postgresql', 'postgresql');
