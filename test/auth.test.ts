import { authSuite } from './suites/auth-suite.js';

authSuite('sqlite');
