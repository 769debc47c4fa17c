// Process objects and the identity of the running process (CPython's process.py).
import { NotImplementedError } from './errors';

export interface ProcessIdentity {
  readonly name: string;
  readonly pid: number;
}

/** The running process: `MainProcess` at the top of the tree. */
export function currentProcess(): ProcessIdentity {
  return { name: 'MainProcess', pid: process.pid };
}

export class Process {
  constructor() {
    throw new NotImplementedError('Process');
  }
}
