// Made by esbuild 0.25.12 (as tsx runs TypeScript) from this TypeScript, with --target=es2022 --format=esm:
//   // A TypeScript user's script with `using` in a Process target and a Pool task (argv[2]: start method).
//   import { basename } from 'node:path';
//   import { getContext, Lock, Queue } from '../../../dist/esm/index.mjs';
//
//   export function target(lock: Lock, queue: Queue, p: string): void {
//     using _held = lock.hold();
//     queue.put('target:' + basename(p));
//   }
//
//   export function task(p: string): string {
//     const log: string[] = [];
//     {
//       using _scope = { [Symbol.dispose]: () => log.push('disposed') };
//       log.push(basename(p));
//     }
//     return log.join(',');
//   }
//
//   const ctx = getContext(process.argv[2] as 'spawn');
//   const lock = new Lock();
//   const queue = new Queue();
//   const child = new ctx.Process({ target, args: [lock, queue, '/a/b.txt'] });
//   child.start();
//   const fromProcess = queue.get(true, 30_000);
//   child.join();
//   const pool = new ctx.Pool(1);
//   const fromPool = pool.apply(task, ['/a/b.txt']);
//   pool.close();
//   pool.join();
//   console.log(JSON.stringify({ fromProcess, fromPool, exitcode: child.exitcode }));
//   queue.close();
// The `using` statements became the module-level helpers below, which the target and the task capture.
var __knownSymbol = (name, symbol) => (symbol = Symbol[name]) ? symbol : Symbol.for("Symbol." + name);
var __typeError = (msg) => {
  throw TypeError(msg);
};
var __using = (stack, value, async) => {
  if (value != null) {
    if (typeof value !== "object" && typeof value !== "function") __typeError("Object expected");
    var dispose, inner;
    if (async) dispose = value[__knownSymbol("asyncDispose")];
    if (dispose === void 0) {
      dispose = value[__knownSymbol("dispose")];
      if (async) inner = dispose;
    }
    if (typeof dispose !== "function") __typeError("Object not disposable");
    if (inner) dispose = function() {
      try {
        inner.call(this);
      } catch (e) {
        return Promise.reject(e);
      }
    };
    stack.push([async, dispose, value]);
  } else if (async) {
    stack.push([async]);
  }
  return value;
};
var __callDispose = (stack, error, hasError) => {
  var E = typeof SuppressedError === "function" ? SuppressedError : function(e, s, m, _) {
    return _ = Error(m), _.name = "SuppressedError", _.error = e, _.suppressed = s, _;
  };
  var fail = (e) => error = hasError ? new E(e, error, "An error was suppressed during disposal") : (hasError = true, e);
  var next = (it) => {
    while (it = stack.pop()) {
      try {
        var result = it[1] && it[1].call(it[2]);
        if (it[0]) return Promise.resolve(result).then(next, (e) => (fail(e), next()));
      } catch (e) {
        fail(e);
      }
    }
    if (hasError) throw error;
  };
  return next();
};
import { basename } from "node:path";
import { getContext, Lock, Queue } from "../../../dist/esm/index.mjs";
function target(lock2, queue2, p) {
  var _stack = [];
  try {
    const _held = __using(_stack, lock2.hold());
    queue2.put("target:" + basename(p));
  } catch (_) {
    var _error = _, _hasError = true;
  } finally {
    __callDispose(_stack, _error, _hasError);
  }
}
function task(p) {
  const log = [];
  {
    var _stack = [];
    try {
      const _scope = __using(_stack, { [Symbol.dispose]: () => log.push("disposed") });
      log.push(basename(p));
    } catch (_) {
      var _error = _, _hasError = true;
    } finally {
      __callDispose(_stack, _error, _hasError);
    }
  }
  return log.join(",");
}
const ctx = getContext(process.argv[2]);
const lock = new Lock();
const queue = new Queue();
const child = new ctx.Process({ target, args: [lock, queue, "/a/b.txt"] });
child.start();
const fromProcess = queue.get(true, 3e4);
child.join();
const pool = new ctx.Pool(1);
const fromPool = pool.apply(task, ["/a/b.txt"]);
pool.close();
pool.join();
console.log(JSON.stringify({ fromProcess, fromPool, exitcode: child.exitcode }));
queue.close();
export {
  target,
  task
};
