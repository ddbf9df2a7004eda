import { applierSuite } from './applier.fixture.js';

applierSuite('sqlite', 'sqlite');
