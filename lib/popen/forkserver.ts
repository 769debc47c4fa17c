// The forkserver start method: one quiet server process forks each child on request. It waits for
// the serializer (multiprocess/serializer); until then start() says so and names the alternative.
import { NotImplementedError } from '../errors';
import type { Launchable, Popen } from './index';

export const ForkserverPopen = {
  method: 'forkserver' as const,
  start(_process: Launchable): Popen {
    throw new NotImplementedError(
      "The 'forkserver' start method (it needs the serializer to send the process object)" +
        "; use getContext('fork') meanwhile, e.g. new (getContext('fork').Process)({ target })",
    );
  },
};
