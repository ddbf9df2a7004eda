import { poisonSuite } from './suites/poison-suite.js';

poisonSuite('postgresql');
