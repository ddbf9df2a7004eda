import { authSuite } from './upgrade-auth.fixture.js';

authSuite('sqlite');
