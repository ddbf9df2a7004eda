import { fuzzSuite } from './suites/fuzz-suite.js';

fuzzSuite('postgresql');
