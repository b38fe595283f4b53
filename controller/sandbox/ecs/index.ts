// The ECS simulator of the local cloud: start it, give it a container runtime, inject faults.

export {
  DEFAULT_FAULTS,
  DEFAULT_LATENCIES,
  ESSENTIAL_CONTAINER_EXITED,
  OVERRIDES_LIMIT,
  SPOT_CAPACITY_UNAVAILABLE,
  SPOT_INTERRUPTED_REASON,
  startEcsSimulator,
  USER_STOPPED_REASON,
} from './simulator.ts';
export type {
  EcsFaults,
  EcsFaultsInput,
  EcsLatencies,
  EcsSimulator,
  EcsSimulatorOptions,
  EcsThrottleConfig,
  SimulatedTask,
  TaskStateChangeListener,
  TaskStatus,
} from './simulator.ts';
export { fakeRunnerRuntime } from './fake-runner-runtime.ts';
export type { FakeRunnerRuntimeOptions } from './fake-runner-runtime.ts';
export { SIGKILL_EXIT_CODE, SIGTERM_EXIT_CODE } from './runtime.ts';
export type { ContainerRuntime, ContainerStart, RunningContainer } from './runtime.ts';
export { FARGATE_SIZES, isFargateSize } from './fargate.ts';
