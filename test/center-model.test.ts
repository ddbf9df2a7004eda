import { centerModelSuite } from './suites/center-model-suite.js';

centerModelSuite('sqlite');
