// A CommonJS module whose closures, made anew at each call, capture its never-reassigned top-level
// bindings and globals (sent without a scope read once a few were read), or a reassigned one (read
// at every dumps, so each message carries its current value).
const rate = 3;
const names = new Map([[1, 'one']]);
function scale(x) {
  return x * rate;
}
let counter = 0;

exports.fixed = () => (x) => scale(x) + (names.get(x) ?? '').length + Math.max(0, x);
exports.mutable = () => (x) => x + counter;
exports.bump = () => {
  counter++;
};
