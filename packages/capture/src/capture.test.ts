import { captureSuite } from './capture.fixture.js';

captureSuite('sqlite');
