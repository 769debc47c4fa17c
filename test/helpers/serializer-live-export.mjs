// An ES module with a live export: `bump()` reassigns `counter`, and every module importing it sees
// the new value through its import binding (the capture-cache tests load it with require(esm)).
export let counter = 0;

export function bump() {
  counter++;
}
