// How a stored pool is shown: as a Kubernetes-style object (yaml/json) and in short words.

import { API_VERSION, POOL_KIND, type GitHubScopeSpec } from '../api/types.ts';
import type { PoolRecord } from '../store/types.ts';

/** The record as an object with Kubernetes-style metadata, for `-o yaml|json`. */
export function poolResource(record: PoolRecord): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: {
      ...record.metadata,
      name: record.name,
      generation: record.generation,
      resourceVersion: String(record.resourceVersion),
      creationTimestamp: record.createdAt,
      ...(record.deletionRequestedAt ? { deletionTimestamp: record.deletionRequestedAt } : {}),
    },
    spec: record.spec,
    ...(record.status ? { status: record.status } : {}),
  };
}

export function scopeText(github: GitHubScopeSpec): string {
  switch (github.scope) {
    case 'org':
      return `org/${github.organization}`;
    case 'repo':
      return `repo/${github.repository}`;
    case 'enterprise':
      return `enterprise/${github.enterprise}`;
  }
}

/**
 * One word for the pool's state: Deleting, Pending (never reconciled), Updating, Ready,
 * Degraded/<reason> (ready, but a Degraded condition is true) or the reason Ready is false.
 */
export function poolPhase(record: PoolRecord): string {
  if (record.deletionRequestedAt) return 'Deleting';
  const status = record.status;
  if (!status) return 'Pending';
  const ready = status.conditions.find((c) => c.type === 'Ready');
  if (!ready) return 'Pending';
  if (ready.status === 'True') {
    if (status.observedGeneration < record.generation) return 'Updating';
    // Ready but refusing some jobs (e.g. SizeRefused): never show that as plain Ready.
    const degraded = status.conditions.find((c) => c.type === 'Degraded' && c.status === 'True');
    return degraded ? `Degraded/${degraded.reason || 'Unknown'}` : 'Ready';
  }
  return ready.reason || 'NotReady';
}

export function count(record: PoolRecord, field: 'queuedJobs' | 'launching' | 'idle' | 'busy') {
  return record.status ? String(record.status[field]) : '-';
}
