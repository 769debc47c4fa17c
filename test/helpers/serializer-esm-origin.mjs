// An ES module for the per-script origin cache: a closure made here is met first, an export of the
// same script after it (it must still go by reference).
export function makeIncrement() {
  return (x) => x + 1;
}

export function triple(x) {
  return 3 * x;
}
