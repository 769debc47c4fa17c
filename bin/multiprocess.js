#!/usr/bin/env node
// The package's command line (`npx multiprocess doctor`): the code lives in lib/doctor.ts.
'use strict';
require('../dist/doctor')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
