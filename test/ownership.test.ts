import { ownershipSuite } from './suites/ownership-suite.js';

ownershipSuite('sqlite');
