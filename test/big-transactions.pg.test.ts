import { bigTransactionSuite } from './suites/big-transaction-suite.js';

bigTransactionSuite(['sqlite', 'postgresql']);
