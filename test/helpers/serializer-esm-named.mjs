// An ES module that one test's child program imports natively: its export must be found by the file
// the addon names for its script, with no replay of every loaded script.
export function quadruple(x) {
  return 4 * x;
}
