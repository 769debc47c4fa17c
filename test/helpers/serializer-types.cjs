// An importable module for the serializer tests: its exports travel by reference, and its
// registered type shows the reducer hook (both parent and child load it).
'use strict';
const { register } = require('../../dist/serializer/index.js');

class Temperature {
  constructor(celsius) {
    this.celsius = celsius;
  }
}
register(Temperature, { reduce: (t) => ({ c: t.celsius }), restore: (s) => new Temperature(s.c) }, 'test.Temperature');

function double(x) {
  return x * 2;
}

class Shape {
  constructor(side) {
    this.side = side;
  }
  area() {
    return this.side * this.side;
  }
}

class Oops extends TypeError {}

module.exports = { Temperature, double, Shape, Oops };
