import { applierSuite } from './applier.fixture.js';

applierSuite('postgresql', 'postgresql');
applierSuite('sqlite', 'postgresql');
applierSuite('postgresql', 'sqlite');
