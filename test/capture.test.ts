import { captureSuite } from './suites/capture-suite.js';

captureSuite('sqlite');
