// subpath-receiver.cjs's program, loading the one subpath with import (the ESM wrapper) instead.
// argv: specifier, start method.
import { receive } from './subpath-receiver.cjs';

const [specifier, method] = process.argv.slice(2);
process.stdout.write(JSON.stringify(await receive(await import(specifier), method)));
