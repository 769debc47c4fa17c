// Classes whose evaluation reads captured variables (argv[2]: start method): a computed key calling
// a module function, static fields and blocks using module helpers and a registry that holds the
// class itself, esbuild's keepNames block; a Process subclass and an instance go to a child.
import { getContext, Queue } from '../../../dist/esm/index.mjs';

var __defProp = Object.defineProperty;
var __name = (target, value) => __defProp(target, 'name', { value, configurable: true });
const key = (n) => `step${n}`;
const unit = () => 'ms';
const registry = [];

class Timer {
  static {
    __name(this, 'Timer');
  }
  static unit = unit();
  static {
    registry.push(this);
  }
  constructor(ms) {
    this.ms = ms;
  }
  [key(1)]() {
    return `${this.ms}${Timer.unit}`;
  }
}

class Reporter extends getContext(process.argv[2]).Process {
  static {
    __name(this, 'Reporter');
  }
  static label = key(2);
  constructor(queue, timer) {
    super();
    this.queue = queue;
    this.timer = timer;
  }
  run() {
    const timer = this.timer;
    this.queue.put({
      label: Reporter.label,
      step: timer.step1(),
      sameClass: timer instanceof Timer && registry.includes(Timer) && registry.every((c) => c === Timer),
      names: [Timer.name, Reporter.name],
    });
  }
}

const queue = new Queue();
const child = new Reporter(queue, new Timer(5));
child.start();
console.log(JSON.stringify(queue.get(true, 30_000)));
child.join();
console.log(JSON.stringify({ exitcode: child.exitcode }));
queue.close();
