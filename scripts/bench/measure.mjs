// Timing helpers for the bench modules: medians of repeated timed batches, in ms per operation.
import { performance } from 'node:perf_hooks';

export function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Median time of one call of `fn` in ms, over `samples` timed batches of `batch` calls, after
 * `warmup` untimed batches. `fn` is awaited when it returns a promise.
 */
export async function timePerOp(fn, { samples = 15, batch = 1, warmup = 2 } = {}) {
  const first = fn();
  const isAsync = typeof first?.then === 'function';
  if (isAsync) await first;
  const times = [];
  for (let i = -warmup; i < samples; i++) {
    const start = performance.now();
    if (isAsync) for (let j = 0; j < batch; j++) await fn();
    else for (let j = 0; j < batch; j++) fn();
    if (i >= 0) times.push((performance.now() - start) / batch);
  }
  return median(times);
}

/** Median of `samples` results of `sample()`, an async function that times one operation itself (ms). */
export async function medianOf(sample, { samples = 10, warmup = 1 } = {}) {
  const times = [];
  for (let i = -warmup; i < samples; i++) {
    const ms = await sample();
    if (i >= 0) times.push(ms);
  }
  return median(times);
}
