// A program that imports only the package root, then receives over a Pipe a SharedMemory and a
// ShareableList that its child made (the child loads multiprocess/shared-memory, the parent never
// does). Prints what it read from them. argv: start method.
const path = require('node:path');
const mp = require('../../dist/index.js');

const sharedMemoryFile = path.join(__dirname, '../../dist/shared-memory.js');
const [ours, theirs] = mp.Pipe();
const child = new (mp.getContext(process.argv[2]).Process)({
  target: (conn, file) => {
    const { ShareableList, SharedMemory } = process.getBuiltinModule('node:module').createRequire(file)(file);
    const mem = new SharedMemory({ create: true, size: 8 });
    mem.buf[0] = 42;
    const list = new ShareableList([7, 'seven']);
    conn.send([mem, list]);
    conn.recv(); // the parent attached: now the names may go
    mem.close();
    mem.unlink();
    list.shm.close();
    list.shm.unlink();
  },
  args: [theirs, sharedMemoryFile],
});
child.start();
const [mem, list] = ours.recv();
process.stdout.write(JSON.stringify([mem.constructor.name, mem.buf[0], list.constructor.name, list[0], list[1]]));
mem.close();
list.shm.close();
ours.send('attached');
child.join();
process.exitCode = child.exitcode;
