// Classes of an ES module: they travel by reference, and so must their instances' prototypes.
class Base {
  constructor(v) {
    this.v = v;
  }
  twice() {
    return this.v * 2;
  }
}

class Failure extends Error {
  constructor(message) {
    super(message);
    this.name = 'Failure';
  }
}

class RangeFailure extends RangeError {}

export { Base, Failure, RangeFailure };
