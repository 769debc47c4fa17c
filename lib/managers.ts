// multiprocess/managers: BaseManager, SyncManager and proxies (issue: managers).
import { NotImplementedError } from './errors';

export class BaseManager {
  constructor() {
    throw new NotImplementedError('multiprocess/managers BaseManager');
  }
}

export class SyncManager extends BaseManager {}
