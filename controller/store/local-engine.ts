// The embedded engine behind `--store local`: dynalite in this process, persisted in LevelDB
// under `<dataDir>/dynamodb`, on an ephemeral loopback port, with the real DynamoDB client.

import type { AddressInfo } from 'node:net';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import dynalite from 'dynalite';

import { DataDirLockedError, StoreError } from './errors.ts';

export interface LocalEngine {
  endpoint: string;
  dataDir: string;
  close(): Promise<void>;
}

/** The part of `level` (dynalite's own LevelDB binding) used to take the directory lock. */
interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
}
type LevelConstructor = new (location: string) => LevelDb;

/** `level` exactly as dynalite resolves it, so no second copy or extra dependency is needed. */
function levelConstructor(): LevelConstructor {
  const fromHere = createRequire(import.meta.url);
  const fromDynalite = createRequire(fromHere.resolve('dynalite'));
  return (fromDynalite('level') as { Level: LevelConstructor }).Level;
}

/** The holder's PID, written next to the lock while it is held. */
const PID_FILE = 'dynamodb.pid';

async function holderPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

const isLocked = (err: unknown) =>
  (err as { code?: string; cause?: { code?: string } })?.cause?.code === 'LEVEL_LOCKED' ||
  (err as { code?: string })?.code === 'LEVEL_LOCKED';

/**
 * Starts dynalite on `<dataDir>/dynamodb`. A second LevelDB at `<dataDir>/dynamodb.lock` stays
 * open for the engine's lifetime: LevelDB locks it (released by the OS if the process dies), so
 * two processes never share one data directory. dynalite itself would crash the process on a
 * locked database, so the lock is taken (and the database probed) before dynalite starts.
 */
export async function startLocalEngine(dataDir: string): Promise<LocalEngine> {
  const dir = path.resolve(dataDir);
  try {
    // Owner-only: the records name repositories, runners and tasks.
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StoreError(`cannot create the local store data directory "${dir}": ${String(err)}`, {
      cause: err,
    });
  }
  const Level = levelConstructor();
  const lock = new Level(path.join(dir, 'dynamodb.lock'));
  const pidFile = path.join(dir, PID_FILE);
  try {
    await lock.open();
  } catch (err) {
    if (isLocked(err)) {
      const pid = await holderPid(pidFile);
      const holder = pid
        ? `process ${pid} holds it (see it with: ps -p ${pid} -o args=; stop it with: kill ${pid})`
        : `lock ${path.join(dir, 'dynamodb.lock')} is held`;
      throw new DataDirLockedError(
        `the local store data directory "${dir}" is in use by another runnerctl process: ` +
          `${holder}; stop that process or use another --data-dir`,
        dir,
        { cause: err, ...(pid ? { pid } : {}) },
      );
    }
    throw new StoreError(`cannot lock the local store data directory "${dir}": ${String(err)}`, {
      cause: err,
    });
  }

  // Beside the lock, for the error a second process gets: who holds it.
  await writeFile(pidFile, `${process.pid}\n`, { mode: 0o600 }).catch(() => {});
  const releaseLock = async () => {
    await rm(pidFile, { force: true }).catch(() => {});
    await lock.close();
  };

  const dbPath = path.join(dir, 'dynamodb');
  try {
    const probe = new Level(dbPath);
    await probe.open();
    await probe.close();
  } catch (err) {
    await releaseLock();
    throw new StoreError(
      `cannot open the local store database "${dbPath}": ${String((err as Error).cause ?? err)}`,
      { cause: err },
    );
  }

  // Tables are ACTIVE at once: there is no provisioning to imitate locally.
  const server = dynalite({ path: dbPath, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await releaseLock();
    throw new StoreError(`cannot start the local DynamoDB engine: ${String(err)}`, { cause: err });
  }
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dataDir: dir,
    close: () =>
      (closed ??= (async () => {
        server.closeIdleConnections();
        // dynalite's close also flushes and closes its LevelDB.
        await new Promise<void>((resolve, reject) =>
          server.close((err) => (err ? reject(err) : resolve())),
        );
        await releaseLock();
      })()),
  };
}
