// SharedMemoryManager (CPython's): a manager whose server makes the blocks and unlinks every one it
// made when it stops — at shutdown(), or when its owner is gone (the server sees its lifeline end).
// Were both SIGKILLed, the tree's resource tracker unlinks them, as the server registered each.
import { ShareableList, SharedMemory, type ShareableItem } from '../shared-memory';
import { shown, type AbortOptions } from '../util';
import { BaseManager } from './base-manager';
import { Server } from './server';

/** The server of a SharedMemoryManager (CPython's SharedMemoryServer): it owns the blocks it made. */
export class SharedMemoryServer extends Server {
  private readonly _segments = new Map<string, SharedMemory>();

  protected override _extraFunction(method: string, args: unknown[]): unknown {
    switch (method) {
      case 'createSegment':
        return this._keep(new SharedMemory({ create: true, size: args[0] as number }));
      case 'createList':
        return this._keep(new ShareableList(args[0] as ShareableItem[]).shm);
      case 'listSegments':
        return [...this._segments.keys()];
      default:
        return super._extraFunction(method, args);
    }
  }

  private _keep(shm: SharedMemory): string {
    this._segments.set(shm.name, shm);
    return shm.name;
  }

  protected override _stopped(): void {
    for (const shm of this._segments.values()) {
      try {
        shm.unlink();
      } catch {
        // a client unlinked it already
      }
      shm.close();
    }
    this._segments.clear();
  }
}

function checkedSize(size: unknown, call: string): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0)
    throw new RangeError(`SharedMemoryManager.${call}(size): size must be a positive integer, got ${shown(size)}`);
  return size;
}

/**
 * CPython's SharedMemoryManager: `start()` it, then `.SharedMemory(size)` and
 * `.ShareableList(sequence)` make blocks that all outlive their users until `shutdown()`, which
 * unlinks them. The blocks returned are attached here; their names work in any process.
 */
export class SharedMemoryManager extends BaseManager {
  static override _Server: typeof Server = SharedMemoryServer;

  /** A new block of `size` bytes, made by the server. */
  SharedMemory(size: number): SharedMemory {
    const name = this._serverFunction('SharedMemory', 'createSegment', [checkedSize(size, 'SharedMemory')]) as string;
    return new SharedMemory({ name, track: false });
  }

  async SharedMemoryAsync(size: number, options?: AbortOptions): Promise<SharedMemory> {
    const name = (await this._serverFunctionAsync('SharedMemoryAsync', 'createSegment', [checkedSize(size, 'SharedMemoryAsync')], options)) as string;
    return new SharedMemory({ name, track: false });
  }

  /** A new ShareableList holding `sequence`, made by the server. */
  ShareableList(sequence: Iterable<ShareableItem> = []): ShareableList {
    const name = this._serverFunction('ShareableList', 'createList', [globalThis.Array.from(sequence)]) as string;
    return new ShareableList(null, { name });
  }

  async ShareableListAsync(sequence: Iterable<ShareableItem> = [], options?: AbortOptions): Promise<ShareableList> {
    const name = (await this._serverFunctionAsync('ShareableListAsync', 'createList', [globalThis.Array.from(sequence)], options)) as string;
    return new ShareableList(null, { name });
  }

  /** The names of the blocks the server made and will unlink (CPython's list_segments). */
  _listSegments(): string[] {
    return this._serverFunction('_listSegments', 'listSegments', []) as string[];
  }
}
