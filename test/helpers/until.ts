// For shared state that another process or thread changes and that has no event to wait on (a
// ring position, "parked in a wait"): re-checks it from the event loop, with a generous deadline
// (a shorter one where the state must come soon or not at all).
export async function until(condition: () => boolean, what = 'condition', withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${withinMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
