// The smoke subset (`npm run test:smoke`): one file per area of the package, for where the whole
// suite costs too much — other Node majors (scripts/node-versions.sh) and the cmake-js build
// (scripts/cmake-smoke.sh). Same settings as vitest.config.mts, fewer files; Queues are in the
// doctor's self-test, across a child of each start method.
import { defineConfig } from 'vitest/config';

import base from './vitest.config.mts';

export const SMOKE = [
  'test/system.test.ts',
  'test/process.test.ts',
  'test/synchronize.test.ts',
  'test/connection.test.ts',
  'test/shared-memory.test.ts',
  'test/sharedctypes.test.ts',
  'test/pool.test.ts',
  'test/memfd.test.ts',
  'test/doctor.test.ts',
];

export default defineConfig({ test: { ...base.test, include: SMOKE } });
