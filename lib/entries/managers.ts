// The multiprocess/managers entry point: its module, and every handle's reducer (handles.ts), so that
// a program importing only this subpath decodes whatever the package sends it.
import '../handles';

export * from '../managers/index';
