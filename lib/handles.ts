// What a process needs to decode anything the package sends, whatever it imported itself: the
// reducer of every handle type (locks, events, connections, queues, shared ctypes, shared memory)
// and the Process classes that children find by reference (context.ts). Imported by every entry
// point: the package root (which the spawn bootstrap and the forkserver load), each subpath's
// module in entries/, and the entries of worker threads. Not by the serializer or the subpath
// modules themselves: these modules use them, so that would be a circle.
import './connection';
import './context';
import './queues';
import './shared-memory';
import './sharedctypes';
import './synchronize';
import './managers/proxy';
