// Which of this process's node flags its children run with: spawn children get them all but those
// that say what the parent runs; the forkserver goes without profilers, and may have to go
// without the module loaders.

// Flags that name what a node runs (a script to evaluate, a REPL, a test or watch mode): the
// parent's own business. Everything else (--import, --require, --conditions, V8 flags) applies.
const OWN_ENTRY = /^(-e|--eval|-p|--print|-pe|-i|--interactive|-c|--check|--test|--watch|--watch-path|--watch-preserve-output|--input-type)(=|$)/;
const TAKES_VALUE = new Set([
  '-e', '--eval', '-p', '--print', '-pe', '--watch-path', '--input-type', '--import', '--loader', '--experimental-loader',
  '--cpu-prof-dir', '--cpu-prof-name', '--cpu-prof-interval', '--heap-prof-dir', '--heap-prof-name', '--heap-prof-interval', '--inspect-port', '--debug-port',
]);
// Flags that start a profiler or inspector thread, which rules out the forkserver's forks: the
// server goes without them (its children are the parent's to profile by other means).
const PROFILER = /^(--cpu-prof|--cpu-prof-dir|--cpu-prof-name|--cpu-prof-interval|--heap-prof|--heap-prof-dir|--heap-prof-name|--heap-prof-interval|--prof|--inspect|--inspect-brk|--inspect-wait|--inspect-port|--debug-port)(=|$)/;
// Flags that may register module customization hooks, which Node runs on a thread of their own
// (tsx, ts-node/esm, instrumentation): a process with that thread cannot fork.
const LOADER = /^(--import|--loader|--experimental-loader)(=|$)/;

/** `flags` minus those `drop` matches, each with its value when that is the next argument. */
function withoutFlags(flags: readonly string[], drop: RegExp): string[] {
  const kept: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const match = drop.exec(flag);
    if (!match) kept.push(flag);
    else if (match[2] === '' && TAKES_VALUE.has(match[1]!)) i++;
  }
  return kept;
}

/** The parent's execArgv minus the flags that say what it runs. */
export function childExecArgv(): string[] {
  return withoutFlags(process.execArgv, OWN_ENTRY);
}

/** The forkserver's flags: a spawn child's, minus those that start a profiler or inspector thread. */
export function forkserverExecArgv(): string[] {
  return withoutFlags(childExecArgv(), PROFILER);
}

/** `flags` minus those that may start a module loader's thread. */
export function withoutLoaders(flags: readonly string[]): string[] {
  return withoutFlags(flags, LOADER);
}

// Whitespace-separated: quoted values with spaces in NODE_OPTIONS are beyond what the flag checks need.
function nodeOptions(): string[] {
  return (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
}

/** The flags this Node started with, its command line's and NODE_OPTIONS' (a flag V8 is given later, at run time, is not seen). */
export function startFlags(): string[] {
  return [...process.execArgv, ...nodeOptions()];
}

/** NODE_OPTIONS without its loader flags, or null when it has none. */
export function nodeOptionsWithoutLoaders(): string | null {
  const options = nodeOptions();
  const plain = withoutLoaders(options);
  return plain.length === options.length ? null : plain.join(' ');
}

/** The loader flags (with their values) this process runs with, NODE_OPTIONS too, for messages; empty if none. */
export function loaderFlags(): string[] {
  const flags = startFlags();
  return flags.flatMap((flag, i) => {
    const match = LOADER.exec(flag);
    return !match ? [] : match[2] === '' ? [`${flag} ${flags[i + 1] ?? ''}`.trim()] : [flag];
  });
}
