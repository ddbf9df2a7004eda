import { centerModelSuite } from './center-model.fixture.js';

centerModelSuite('sqlite');
