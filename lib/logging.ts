// CPython's multiprocessing.util logging: one 'multiprocessing' logger, its levels, and
// logToStderr's "[INFO/Process-1] message" lines.
import * as fs from 'node:fs';
import { format } from 'node:util';

import { currentProcess } from './process';

export const SUBDEBUG = 5;
export const DEBUG = 10;
export const INFO = 20;
export const SUBWARNING = 25;
export const WARNING = 30;
export const ERROR = 40;
export const CRITICAL = 50;
export const NOTSET = 0;

const NAMES: Record<string, number> = { SUBDEBUG, DEBUG, INFO, SUBWARNING, WARNING, ERROR, CRITICAL, NOTSET };
const LABELS = new Map(Object.entries(NAMES).map(([name, level]) => [level, name]));

export type Level = number | keyof typeof NAMES;

function levelOf(level: Level): number {
  if (typeof level === 'number') return level;
  const value = NAMES[String(level).toUpperCase()];
  if (value === undefined) throw new RangeError(`unknown logging level ${String(level)}`);
  return value;
}

export class Logger {
  level = NOTSET;
  private _stderr = false;

  setLevel(level: Level): void {
    this.level = levelOf(level);
  }
  /** Whether a record at `level` would be emitted (CPython's isEnabledFor). */
  isEnabledFor(level: Level): boolean {
    return this._stderr && levelOf(level) >= (this.level || WARNING);
  }
  log(level: Level, message: unknown, ...args: unknown[]): void {
    const value = levelOf(level);
    if (!this.isEnabledFor(value)) return;
    const label = LABELS.get(value) ?? `Level ${value}`;
    fs.writeSync(2, `[${label}/${currentProcess().name}] ${format(message, ...args)}\n`);
  }
  subdebug(message: unknown, ...args: unknown[]): void { this.log(SUBDEBUG, message, ...args); }
  debug(message: unknown, ...args: unknown[]): void { this.log(DEBUG, message, ...args); }
  info(message: unknown, ...args: unknown[]): void { this.log(INFO, message, ...args); }
  subwarning(message: unknown, ...args: unknown[]): void { this.log(SUBWARNING, message, ...args); }
  warning(message: unknown, ...args: unknown[]): void { this.log(WARNING, message, ...args); }
  error(message: unknown, ...args: unknown[]): void { this.log(ERROR, message, ...args); }
  critical(message: unknown, ...args: unknown[]): void { this.log(CRITICAL, message, ...args); }

  /** @internal turns the stderr handler on (logToStderr). */
  _enableStderr(): void {
    this._stderr = true;
  }
}

const logger = new Logger();

/** The package's logger; silent until logToStderr() (as CPython's, which has no handler by default). */
export function getLogger(): Logger {
  return logger;
}

/** Sends the logger's records to stderr; fork children inherit the setting. */
export function logToStderr(level?: Level): Logger {
  logger._enableStderr();
  if (level !== undefined) logger.setLevel(level);
  return logger;
}
