// The multiprocess/serializer entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.

/**
 * The serializer ("dill for JavaScript"): `dumps`/`loads` for functions, closures, classes,
 * instances, errors and this package's handles.
 *
 * @module multiprocess/serializer
 */
import '../handles';

export * from '../serializer/index';
