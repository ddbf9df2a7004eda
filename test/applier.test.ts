import { applierSuite } from './suites/applier-suite.js';

applierSuite('sqlite', 'sqlite');
