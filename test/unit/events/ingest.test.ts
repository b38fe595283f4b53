import { describe, expect, it } from 'vitest';
import { ingest } from '../../../controller/events/ingest.ts';
import {
  normaliseWorkflowJob,
  type WorkflowJobEvent,
} from '../../../controller/events/normalise.ts';
import type { JobRecord } from '../../../controller/store/types.ts';
import { MemoryIngestStore } from './memory-ingest-store.ts';
import { example } from './webhook-examples.ts';

function event(action: string): WorkflowJobEvent {
  const body = example(action === 'completed' ? 'completed' : 'queued');
  body.action = action;
  const result = normaliseWorkflowJob(body);
  if (result.kind !== 'job') throw new Error('expected a job');
  return result.event;
}

describe('ingest', () => {
  it('records a job, remembers its repository and reports the change', async () => {
    const store = new MemoryIngestStore();
    const changed: JobRecord[] = [];
    const result = await ingest(event('queued'), {
      store,
      onJobChanged: (j) => void changed.push(j),
    });
    expect(result.outcome).toBe('recorded');
    expect(store.jobs.get(289782451)?.status).toBe('queued');
    expect([...store.repositories.keys()]).toEqual(['Codertocat/Hello-World']);
    expect(changed.map((j) => j.status)).toEqual(['queued']);
  });

  it('a duplicate delivery writes nothing and wakes nobody', async () => {
    const store = new MemoryIngestStore();
    const changed: JobRecord[] = [];
    const deps = { store, onJobChanged: (j: JobRecord) => void changed.push(j) };
    await ingest(event('queued'), deps);
    const again = await ingest(event('queued'), deps);
    expect(again.outcome).toBe('duplicate');
    expect(store.writes).toBe(1);
    expect(changed).toHaveLength(1);
  });

  it('late events never move a job backwards', async () => {
    const store = new MemoryIngestStore();
    const changed: string[] = [];
    const deps = { store, onJobChanged: (j: JobRecord) => void changed.push(j.status) };
    await ingest(event('completed'), deps);
    expect((await ingest(event('in_progress'), deps)).outcome).toBe('unchanged');
    expect((await ingest(event('queued'), deps)).outcome).toBe('unchanged');
    expect(store.jobs.get(289782451)?.status).toBe('completed');
    expect(changed).toEqual(['completed']);
  });

  it('a redelivery after a failed write is recorded (marked seen is not enough)', async () => {
    const store = new MemoryIngestStore();
    store.failNextRecords = 1;
    await expect(ingest(event('queued'), { store })).rejects.toThrow('store unavailable');
    const retried = await ingest(event('queued'), { store });
    expect(retried.outcome).toBe('recorded');
    expect(store.jobs.get(289782451)?.status).toBe('queued');
  });

  it('a failing onJobChanged does not fail the ingest (the job is stored)', async () => {
    const store = new MemoryIngestStore();
    const result = await ingest(event('queued'), {
      store,
      onJobChanged: () => {
        throw new Error('queue closed');
      },
    });
    expect(result.outcome).toBe('recorded');
  });
});
