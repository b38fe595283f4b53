import { startLocalEngine } from '../../controller/store/local-engine.ts';
import { openStore } from '../../controller/store/factory.ts';
const engine = await startLocalEngine(process.argv[2] + '/db');
const store = await openStore({
  kind: 'dynamodb',
  endpoint: engine.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
} as never);
const jobs = await store.listJobs({ status: ['queued', 'waiting', 'completed'] } as never);
for (const j of jobs.filter((j) => j.id > 1e9))
  console.log(j.id, j.status, j.confirmation, j.pool, j.labels.join(','), j.createdAt, j.updatedAt);
const runners = await store.listRunners({ live: true } as never);
const byState: Record<string, number> = {};
for (const r of runners) byState[r.state] = (byState[r.state] ?? 0) + 1;
console.log(byState);
await store.close();
await engine.close();
