import { authSuite } from './suites/auth-suite.js';

authSuite('postgresql');
