// The multiprocess/serializer entry point: its module's exports, with the documentation of the subpath.

/**
 * The serializer ("dill for JavaScript"): `dumps`/`loads` for functions, closures, classes,
 * instances, errors and this package's handles.
 *
 * @module multiprocess/serializer
 */
export * from '../serializer/index';
