import type { PoolRecord } from '../../store/types.ts';

type Architecture = 'X86_64' | 'ARM64';

/**
 * The task definition a pool's runners launch. The stack creates each size's family for its own
 * architecture under the plain name (`runnerctl-runner-small`) and for every extra architecture
 * with a suffix (`runnerctl-runner-small-arm64`), and tells the controller which architectures
 * it made (`architectures`, its own first). So a pool names the plain family once and its
 * `runtimePlatform.cpuArchitecture` picks the family of that architecture. A revision, an ARN,
 * a family already suffixed, or an architecture the stack did not make is used as written.
 */
export function taskDefinitionFor(
  pool: Pick<PoolRecord, 'spec'>,
  architectures: readonly Architecture[] | undefined,
): string {
  const written = pool.spec.ecs.taskDefinition;
  const wanted = pool.spec.ecs.runtimePlatform?.cpuArchitecture;
  if (!wanted || !architectures || architectures.length === 0) return written;
  if (architectures[0] === wanted || !architectures.includes(wanted)) return written;
  if (written.startsWith('arn:') || written.includes(':')) return written;
  const suffix = `-${wanted.toLowerCase()}`;
  return written.endsWith(suffix) ? written : `${written}${suffix}`;
}
