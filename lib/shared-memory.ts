// multiprocess/shared-memory: SharedMemory, ShareableList, SharedMemoryManager (CPython's shared_memory).
import { NotImplementedError } from './errors';

export class SharedMemory {
  constructor() {
    throw new NotImplementedError('multiprocess/shared-memory SharedMemory');
  }
}
