// What a RUNNING task runs. The simulator hands each task's essential container to a
// ContainerRuntime; the sandbox's default runs the fake runner with the task's JIT config.

export interface ContainerStart {
  taskArn: string;
  containerName: string;
  /** Task definition environment merged with the RunTask container overrides. */
  environment: Record<string, string>;
  /** Task-level size (after overrides), CPU units and MiB. */
  cpu: number;
  memory: number;
  /** Aborted with reason 'SIGTERM' when ECS stops the task (StopTask, spot interruption). */
  signal: AbortSignal;
}

export interface RunningContainer {
  /** Resolves with the container's exit code. */
  exited: Promise<number>;
  /** SIGKILL after the stop timeout; the simulator then records exit code 137. */
  kill?(): void;
}

export interface ContainerRuntime {
  start(container: ContainerStart): RunningContainer;
}

/** The exit code ECS records for a container killed after its stop timeout. */
export const SIGKILL_EXIT_CODE = 137;
/** The exit code of a process that exits on SIGTERM without handling it. */
export const SIGTERM_EXIT_CODE = 143;
