// Registers the reducer of every handle type the package sends (locks, events, connections, queues,
// shared ctypes, shared memory), so that a process decodes any of them whatever it imported itself.
// Imported by the package root, which every child entry (spawn bootstrap, forkserver) loads, and by
// the pool's worker threads. Not by the serializer: these modules use it, so that would be a circle.
import './connection';
import './queues';
import './shared-memory';
import './sharedctypes';
import './synchronize';
