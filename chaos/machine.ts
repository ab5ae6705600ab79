/**
 * The machine a chaos run drives, behind one face: the built-in simulator
 * (its `control` queue, its physical truth in Redis) or ccTalk peripherals
 * (chaos/cctalk.ts). The workload and the settling hand it the same
 * actions; the invariants judge the books against its `truth()`.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ControlJob } from '../queue/index.js';
import type { RedisKeys } from '../shared/keys.js';
import { readPhysicalTruth, type PhysicalTruth } from '../shared/physical-truth.js';

export type ChaosHardware = 'sim' | 'cctalk';

export interface ChaosMachine {
  readonly hardware: ChaosHardware;
  /** Whether the hopper counts its coins (the books then keep an inventory to compare). */
  readonly hopperCounts: boolean;
  /** Hands an action over; rejects when it cannot be (Redis down, emulator gone). */
  act(job: ControlJob): Promise<void>;
  /** What really happened: cash box, hopper, faults a person must clear. */
  truth(): Promise<PhysicalTruth>;
}

export function simMachine(control: Queue<ControlJob>, db: Redis, keys: RedisKeys): ChaosMachine {
  return {
    hardware: 'sim',
    hopperCounts: true,
    act: async (job) => void (await control.add(job.action, job)),
    truth: () => readPhysicalTruth(db, keys),
  };
}
