import { centerLockSuite } from './suites/center-lock-suite.js';

centerLockSuite('sqlite');
