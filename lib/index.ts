// The package root: the default context's classes and the module functions (CPython's multiprocessing/__init__).
export * from './errors';
export { cpuCount, setExecutable } from './context';
