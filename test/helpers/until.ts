// For shared state that another process or thread changes and that has no event to wait on (a
// ring position, "parked in a wait"): re-checks it from the event loop, with a generous deadline.
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached in 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
