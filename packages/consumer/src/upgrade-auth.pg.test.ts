import { authSuite } from './upgrade-auth.fixture.js';

authSuite('postgresql');
