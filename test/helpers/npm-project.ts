// A user's project, made the way a user makes one: the package packed with npm pack and installed
// with npm install into an empty directory (with whatever else the project needs beside it).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const root = path.resolve(__dirname, '..', '..');
export const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

export async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund'], { cwd, maxBuffer: 64 << 20 });
  return stdout;
}

/** Packs `dir` without running its scripts (dist/ is already built) and returns the tarball's path. */
export async function pack(dir: string, destination: string): Promise<string> {
  fs.mkdirSync(destination, { recursive: true });
  const [info] = JSON.parse(await npm(dir, ['pack', '--ignore-scripts', '--json', '--pack-destination', destination])) as [
    { filename: string },
  ];
  return path.join(destination, info.filename);
}

/**
 * Creates an empty project (package.json with `fields`), installs `tarball` and `others` (package
 * specs) into it and returns the installed package's directory.
 */
export async function installInto(
  project: string,
  tarball: string,
  extra: string[],
  options: { others?: string[]; fields?: Record<string, unknown> } = {},
): Promise<string> {
  fs.mkdirSync(project, { recursive: true });
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, ...options.fields }));
  await npm(project, ['install', '--prefer-offline', ...extra, tarball, ...(options.others ?? [])]);
  return path.join(project, 'node_modules', pkg.name);
}
