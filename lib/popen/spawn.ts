// The spawn start method: a fresh node process that receives the process object by value. It waits
// for the serializer (multiprocess/serializer); until then start() says so and names the alternative.
import { NotImplementedError } from '../errors';
import type { Launchable, Popen } from './index';

export const SpawnPopen = {
  method: 'spawn' as const,
  start(_process: Launchable): Popen {
    throw new NotImplementedError(
      "The 'spawn' start method (it needs the serializer to send the process object)" +
        "; use getContext('fork') meanwhile, e.g. new (getContext('fork').Process)({ target })",
    );
  },
};
