// Child process for the lock test: opens the local store on argv[2], says "ready", and holds
// it until stdin closes (or it is killed).

import { openStore } from '../../controller/store/factory.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: hold-local-store.ts DATA_DIR');
const store = await openStore({ kind: 'local', dataDir });
await store.applyPool({
  apiVersion: 'runnerctl.dev/v1alpha1',
  kind: 'RunnerPool',
  metadata: { name: 'held' },
  spec: {
    github: { scope: 'org', organization: 'acme' },
    labels: ['linux'],
    maxRunners: 1,
    ecs: { cluster: 'c', taskDefinition: 't', subnets: ['s'] },
  },
});
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void store.close().then(() => process.exit(0));
});
