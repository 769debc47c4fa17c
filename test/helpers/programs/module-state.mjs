// An ES module with state and an import of node:worker_threads: its exports must run inside the
// worker's own instance of this module, not as copies of the sender's.
import { threadId } from 'node:worker_threads';

let remembered = 'never initialized';

export function whoAmI() {
  return threadId;
}

export function remember(value) {
  remembered = value;
}

export function recall() {
  return remembered;
}
