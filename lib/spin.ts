// When to spin before sleeping (native/spin.h says why): a side that got its last answer within
// a spin window expects the next one as fast, and keeps its CPU busy that long instead of sleeping.
// A slow answer turns spinning off until the answers are fast again, so idle or long waits cost no CPU.

/**
 * How long a side spins for an answer it expects soon (ms): a few short round trips.
 * MULTIPROCESS_SPIN=0 in the environment turns spinning off (read once per process; children
 * inherit it): for machines where idle CPU between fast messages is worth more than latency.
 */
export const SPIN_MS = process.env.MULTIPROCESS_SPIN === '0' ? 0 : 0.1;

export class SpinPolicy {
  // Earned by a fast answer: a side that only sends, or only waits long, never spins.
  private fast = false;
  private since = -1;

  /** A message went out (or a wait began): its answer is awaited from now. Returns how long to spin for it. */
  started(): number {
    this.since = performance.now();
    return this.budget;
  }

  /** The answer came (or the wait ended). */
  ended(): void {
    if (this.since < 0) return;
    this.fast = performance.now() - this.since <= 2 * SPIN_MS;
    this.since = -1;
  }

  /** How long to spin for the awaited answer now: SPIN_MS while answers come fast, else 0. */
  get budget(): number {
    return this.fast ? SPIN_MS : 0;
  }
}
