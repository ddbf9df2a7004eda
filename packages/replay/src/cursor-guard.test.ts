import { cursorGuardSuite } from './cursor-guard.fixture.js';

cursorGuardSuite('sqlite');
