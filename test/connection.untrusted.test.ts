// A peer's header is untrusted: one claiming more than a Buffer can hold is a documented
// ERR_MP_BAD_MESSAGE_LENGTH that closes the connection (its stream position is lost), whichever
// call reads it (found by the framing fuzzer: it was a bare Error, and the async reads kept the
// connection open, out of step with its stream).
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { Pipe, type Connection } from '../lib/connection';

const open: Connection[] = [];
afterEach(() => {
  for (const connection of open.splice(0)) connection.close();
});

/** A reader whose peer sent a long-form header claiming 2^62 bytes, then a few bytes of body. */
function claimingTooMuch(): Connection {
  const [reader, writer] = Pipe();
  open.push(reader, writer);
  const header = Buffer.alloc(12);
  header.writeInt32BE(-1);
  header.writeBigUInt64BE(1n << 62n, 4);
  fs.writeSync(writer.fileno(), Buffer.concat([header, Buffer.from('body')]));
  return reader;
}

const calls: Record<string, (c: Connection) => unknown> = {
  recvBytes: (c) => c.recvBytes(),
  recv: (c) => c.recv(),
  recvBytesInto: (c) => c.recvBytesInto(Buffer.alloc(16)),
  recvBytesAsync: (c) => c.recvBytesAsync(),
  recvAsync: (c) => c.recvAsync(),
  recvBytesIntoAsync: (c) => c.recvBytesIntoAsync(Buffer.alloc(16)),
};

describe('a header claiming more than a Buffer can hold', () => {
  it.each(Object.keys(calls))('%s: RangeError ERR_MP_BAD_MESSAGE_LENGTH, and the connection is closed', async (call) => {
    const reader = claimingTooMuch();
    let error: unknown;
    try {
      await calls[call]!(reader);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_MP_BAD_MESSAGE_LENGTH', message: expect.stringMatching(/^bad message length: 4611686018427387904 bytes \(/) });
    expect(reader.closed).toBe(true);
  });
});
