// Amazon's DynamoDB Local for the integration tests. It ships inside the npm package
// amplify-dynamodb-simulator (pinned below): the tarball is fetched through npm (so the
// machine's registry configuration applies), its sha512 checked against the pinned integrity,
// and only its `package/emulator/` folder extracted into test/.cache/. Later runs reuse the
// folder after re-checking the marker written next to it (integrity + the jar's sha256).

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import type { DynamoEngine } from './dynamodb-engines.ts';

export const DYNAMODB_LOCAL_PACKAGE = 'amplify-dynamodb-simulator';
export const DYNAMODB_LOCAL_PACKAGE_VERSION = '2.9.30';
export const DYNAMODB_LOCAL_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE_ROOT = path.join(REPO_ROOT, 'test/.cache/dynamodb-local');
const EMULATOR_DIR = path.join(CACHE_ROOT, DYNAMODB_LOCAL_PACKAGE_VERSION);
const MARKER = '.runnerctl-verified.json';
const JAR = 'DynamoDBLocal.jar';
const START_TIMEOUT_MS = 60_000;

interface Marker {
  package: string;
  integrity: string;
  jarSha256: string;
}

function run(
  command: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { ...opts, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          Object.assign(err, {
            message: `${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`,
          }),
        );
      } else resolve({ stdout, stderr });
    });
  });
}

async function hashFile(file: string, algorithm: 'sha512' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest(algorithm === 'sha512' ? 'base64' : 'hex');
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

async function isVerified(dir: string): Promise<boolean> {
  const marker = await readMarker(dir);
  if (!marker || marker.integrity !== DYNAMODB_LOCAL_INTEGRITY) return false;
  try {
    return (await hashFile(path.join(dir, JAR), 'sha256')) === marker.jarSha256;
  } catch {
    return false;
  }
}

/** Throws unless the file's sha512 is the expected npm integrity string. */
export async function verifyIntegrity(file: string, expected: string, what: string): Promise<void> {
  const integrity = `sha512-${await hashFile(file, 'sha512')}`;
  if (integrity !== expected) {
    throw new Error(
      `integrity mismatch for ${what}: expected ${expected}, got ${integrity} (${file}); ` +
        'refusing to run what was fetched',
    );
  }
}

/** Fetches, verifies and extracts the emulator once; returns its folder. */
export async function ensureDynamoDBLocal(): Promise<string> {
  if (await isVerified(EMULATOR_DIR)) return EMULATOR_DIR;
  await rm(EMULATOR_DIR, { recursive: true, force: true });
  await mkdir(CACHE_ROOT, { recursive: true });

  const download = await mkdtemp(path.join(os.tmpdir(), 'runnerctl-ddb-local-'));
  const staging = path.join(
    CACHE_ROOT,
    `.staging-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    const spec = `${DYNAMODB_LOCAL_PACKAGE}@${DYNAMODB_LOCAL_PACKAGE_VERSION}`;
    await run(
      'npm',
      ['pack', spec, '--pack-destination', download, '--ignore-scripts', '--silent'],
      {
        cwd: REPO_ROOT,
      },
    );
    const tarballs = (await readdir(download)).filter((f) => f.endsWith('.tgz'));
    if (tarballs.length !== 1) {
      throw new Error(`npm pack ${spec} produced ${tarballs.length} tarballs in ${download}`);
    }
    const tarball = path.join(download, tarballs[0] as string);
    await verifyIntegrity(tarball, DYNAMODB_LOCAL_INTEGRITY, spec);

    await mkdir(staging, { recursive: true });
    // Only the emulator folder: the package's JavaScript is never extracted, let alone run.
    await run('tar', ['-xzf', tarball, '-C', staging, '--strip-components=2', 'package/emulator']);
    const jarSha256 = await hashFile(path.join(staging, JAR), 'sha256');
    const marker: Marker = { package: spec, integrity: DYNAMODB_LOCAL_INTEGRITY, jarSha256 };
    await writeFile(path.join(staging, MARKER), JSON.stringify(marker, null, 2));
    try {
      await rename(staging, EMULATOR_DIR);
    } catch (err) {
      // Another test process finished first; use its copy if it checks out.
      if (!(await isVerified(EMULATOR_DIR))) throw err;
    }
    return EMULATOR_DIR;
  } finally {
    await rm(download, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

/** Fails (never skips) when Java is missing. */
export async function requireJava(java = 'java'): Promise<void> {
  try {
    await run(java, ['-version']);
  } catch (err) {
    throw new Error(
      'DynamoDB Local needs Java (17 or newer) on PATH: ' +
        `${(err as Error).message.split('\n')[0]}. Install a JRE (e.g. apt-get install ` +
        'openjdk-17-jre-headless); the store suite must run on both engines, so it fails ' +
        'instead of skipping.',
      { cause: err },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=probe/20200101/us-east-1/dynamodb/aws4_request, ' +
          'SignedHeaders=host, Signature=0',
      },
      body: '{}',
    });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startDynamoDBLocal(): Promise<DynamoEngine> {
  await requireJava();
  const dir = await ensureDynamoDBLocal();
  let lastFailure = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      'java',
      [
        // Quick start over peak speed: a test run is short.
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
        '-jar',
        path.join(dir, JAR),
        '-inMemory',
        '-disableTelemetry',
        '-port',
        String(port),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);

    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (child.exitCode === null && Date.now() < deadline && !(await answers(endpoint))) {
      await sleep(100);
    }
    if (child.exitCode === null && (await answers(endpoint))) {
      return {
        name: 'DynamoDB Local',
        endpoint,
        supportsTtl: true,
        stop: async () => {
          await stopProcess(child);
          process.off('exit', killOnExit);
        },
      };
    }
    await stopProcess(child);
    process.off('exit', killOnExit);
    lastFailure = output;
    // A port taken between freePort() and java binding it: try another one.
    if (!/address already in use|BindException/i.test(output)) break;
  }
  throw new Error(`DynamoDB Local did not start; its output:\n${lastFailure}`);
}
