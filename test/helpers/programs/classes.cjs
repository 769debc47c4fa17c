// Classes of a CommonJS module: they travel by reference, and so must their instances' prototypes.
'use strict';

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

module.exports = { Base, Failure, RangeFailure };
