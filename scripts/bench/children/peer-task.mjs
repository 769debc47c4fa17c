// The task every Node pool peer runs in the pool bench (piscina and tinypool load it as their
// worker module): { op, x } → x * x, x's byte length, or x.
export default function task({ op, x }) {
  if (op === 'square') return x * x;
  if (op === 'len') return x.byteLength;
  return x;
}
