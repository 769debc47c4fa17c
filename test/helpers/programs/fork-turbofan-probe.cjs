// Run with --allow-natives-syntax (fork-turbofan.cjs): a module of its own, so that a Pool sends
// the probe by reference (the serializer cannot parse natives syntax to send it by value).
const TURBOFANNED = 1 << 6; // V8's OptimizationStatus::kTurboFanned

/** Asks for a concurrent TurboFan compile, then calls the function until its code arrives or 20 s pass. */
function concurrentCompileArrives() {
  function hot(n) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += i % 7;
    return sum;
  }
  %PrepareFunctionForOptimization(hot);
  hot(10);
  hot(20);
  %OptimizeFunctionOnNextCall(hot, 'concurrent');
  hot(30);
  const deadline = Date.now() + 20_000;
  let calls = 0;
  while (!(%GetOptimizationStatus(hot) & TURBOFANNED) && Date.now() < deadline) calls += hot(1000) > 0 ? 1 : 0;
  return { turbofanned: (%GetOptimizationStatus(hot) & TURBOFANNED) !== 0, calls };
}

module.exports = { concurrentCompileArrives };
