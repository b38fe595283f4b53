// Names shared by the controller, the runner image and the local cloud.

/** Environment variable (container override) that carries the encoded JIT config to the runner. */
export const JIT_CONFIG_ENV = 'RUNNERCTL_JIT_CONFIG';

/** ECS `startedBy` value on every task the controller starts (at most 36 characters). */
export const TASK_STARTED_BY = 'runnerctl';

/** Tag keys on every task the controller starts. */
export const TASK_TAG_RUNNER = 'runnerctl.dev/runner';
export const TASK_TAG_POOL = 'runnerctl.dev/pool';

/** Default prefix of runner names; GitHub runners and tasks with it are ours. */
export const DEFAULT_RUNNER_NAME_PREFIX = 'rctl';

/** GitHub's limit on runner names. */
export const MAX_RUNNER_NAME_LENGTH = 64;
