// multiprocess/managers (CPython's managers.py): BaseManager, SyncManager, the proxies, the Server.
export { BaseManager, type ManagerOptions, type RegisterOptions } from './base-manager';
export {
  AcquirerProxy,
  ArrayProxy,
  AsyncResultProxy,
  AutoProxy,
  BarrierProxy,
  BaseProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  ListProxy,
  NamespaceProxy,
  PoolProxy,
  QueueProxy,
  ValueProxy,
  type ProxyClass,
  type ProxyOptions,
  type Token,
  type Transport,
} from './proxy';
export { Server } from './server';
export { SyncManager } from './sync-manager';
