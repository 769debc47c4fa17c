// The shape: two exports of one ES module, `main` calling `helper` and `helper` reading an import.
import { basename } from 'node:path';

export function helper(p) {
  return 'helper:' + basename(p);
}

export function main(p) {
  return helper(p);
}
