// multiprocess/dummy: the same API on worker_threads (issue: pool).
import { NotImplementedError } from '../errors';

export class Pool {
  constructor() {
    throw new NotImplementedError('multiprocess/dummy Pool');
  }
}

export { Pool as ThreadPool };
