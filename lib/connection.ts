// multiprocess/connection: Listener, Client, wait and Connection (issue: connections and queues).
import { NotImplementedError } from './errors';

export class Listener {
  constructor() {
    throw new NotImplementedError('multiprocess/connection Listener');
  }
}

export function Client(): never {
  throw new NotImplementedError('multiprocess/connection Client');
}

export function ClientAsync(): Promise<never> {
  return Promise.reject(new NotImplementedError('multiprocess/connection ClientAsync'));
}

export function wait(): never {
  throw new NotImplementedError('multiprocess/connection wait');
}

export function waitAsync(): Promise<never> {
  return Promise.reject(new NotImplementedError('multiprocess/connection waitAsync'));
}
