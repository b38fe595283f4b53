// The SQS simulator of the local cloud.

export { startSqsSimulator } from './simulator.ts';
export type { QueueSummary, SqsSimulator, SqsSimulatorOptions } from './simulator.ts';
export { md5Hex, md5OfMessageAttributes } from './md5.ts';
