import { applierSuite } from './suites/applier-suite.js';

applierSuite('postgresql', 'postgresql');
applierSuite('sqlite', 'postgresql');
applierSuite('postgresql', 'sqlite');
