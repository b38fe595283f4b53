import { describe, expect, it } from 'vitest';
import { taskDefinitionFor } from '../../../controller/reconcile/runner/task-definition.ts';
import type { RuntimePlatformSpec } from '../../../controller/api/types.ts';
import type { PoolRecord } from '../../../controller/store/types.ts';

const pool = (taskDefinition: string, runtimePlatform?: RuntimePlatformSpec) =>
  ({
    spec: {
      ecs: { cluster: 'c', taskDefinition, ...(runtimePlatform ? { runtimePlatform } : {}) },
    },
  }) as unknown as Pick<PoolRecord, 'spec'>;

const ARM = { cpuArchitecture: 'ARM64' } as const;
const X86 = { cpuArchitecture: 'X86_64' } as const;

describe("a pool's task definition per architecture (the stack's families)", () => {
  it("launches the stack's -arm64 family for an ARM64 pool naming the plain family", () => {
    expect(taskDefinitionFor(pool('runnerctl-runner-small', ARM), ['X86_64', 'ARM64'])).toBe(
      'runnerctl-runner-small-arm64',
    );
    // A stack built for ARM64 first: its plain families are ARM64, the extra ones -x86_64.
    expect(taskDefinitionFor(pool('runnerctl-runner-small', X86), ['ARM64', 'X86_64'])).toBe(
      'runnerctl-runner-small-x86_64',
    );
  });

  it('keeps what the pool wrote when nothing says otherwise', () => {
    const both = ['X86_64', 'ARM64'] as const;
    // The stack's own architecture, or no architecture declared.
    expect(taskDefinitionFor(pool('runnerctl-runner-small', X86), both)).toBe(
      'runnerctl-runner-small',
    );
    expect(taskDefinitionFor(pool('runnerctl-runner-small'), both)).toBe('runnerctl-runner-small');
    // Already the architecture's family, a pinned revision, or an ARN.
    expect(taskDefinitionFor(pool('runnerctl-runner-small-arm64', ARM), both)).toBe(
      'runnerctl-runner-small-arm64',
    );
    expect(taskDefinitionFor(pool('my-runner:7', ARM), both)).toBe('my-runner:7');
    const arn = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/my-runner:3';
    expect(taskDefinitionFor(pool(arn, ARM), both)).toBe(arn);
    // The stack made no ARM64 families, or the controller was not told (no stack).
    expect(taskDefinitionFor(pool('runnerctl-runner-small', ARM), ['X86_64'])).toBe(
      'runnerctl-runner-small',
    );
    expect(taskDefinitionFor(pool('runnerctl-runner-small', ARM), undefined)).toBe(
      'runnerctl-runner-small',
    );
  });
});
