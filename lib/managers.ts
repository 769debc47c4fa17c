// multiprocess/managers: BaseManager, SyncManager and proxies (issue: managers).
import { NotImplementedError } from './errors';

export class BaseManager {
  constructor() {
    throw new NotImplementedError('multiprocess/managers BaseManager');
  }
}

export class SyncManager extends BaseManager {}

/** The base of every proxy, for BaseManager.register's proxytype (API.md §8). */
export class BaseProxy {
  constructor() {
    throw new NotImplementedError('multiprocess/managers BaseProxy');
  }
}

/** The proxy of a registered type that exposes its public methods (CPython's AutoProxy). */
export class AutoProxy extends BaseProxy {}
