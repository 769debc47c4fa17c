// Test-only stand-in for the serializer: registered handles as JSON ({$handle, state}), given the
// registry of the side that runs it (lib/ sources in the test, dist/ in the child).
module.exports = function wire({ reducerFor, reducerNamed }) {
  function toWire(value) {
    if (typeof value === 'function') return { $function: value.toString() };
    if (value === null || typeof value !== 'object') return value;
    const entry = reducerFor(value);
    if (entry) return { $handle: entry.name, state: toWire(entry.reducer.reduce(value)) };
    if (Array.isArray(value)) return value.map(toWire);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  function fromWire(value) {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(fromWire);
    if (typeof value.$function === 'string') return (0, eval)(`(${value.$function})`);
    if (typeof value.$handle === 'string') return reducerNamed(value.$handle).reducer.restore(fromWire(value.state));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return { toWire, fromWire };
};
