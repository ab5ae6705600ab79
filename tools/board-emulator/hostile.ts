/**
 * Deliberately broken output for tests (docs/board-link.md §7): each kind
 * exercises one rejection path of the agent's decoder or link. The fake
 * events carry ids far above any real counter, so a test can tell if one
 * ever got through.
 */
import { DLE, ETX, MAX_PAYLOAD, STX, frameBody, stuff } from '../../shared/board-link/frame.js';
import { encodePayload, typeCode } from '../../shared/board-link/messages.js';

export const hostileKinds = ['bad-crc', 'truncated', 'oversized', 'garbage', 'unknown-type', 'bad-payload', 'unknown-event', 'replay'] as const;
export type HostileKind = (typeof hostileKinds)[number];

/** Event id of every fake event below; a real board never gets this far. */
export const FAKE_EVENT_ID = 0xfff0_0000;

const fakeBill = (): Buffer =>
  frameBody({
    seq: 0xbeef,
    type: typeCode('event'),
    payload: encodePayload({ name: 'event', eventId: FAKE_EVENT_ID, ageMs: 0, event: { kind: 'bill', amount: 1000 } }),
  });

/** Bytes that are never STX, so they cannot open a frame. */
function noise(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => [0x55, 0xaa, ETX, DLE, 0x00, 0xff][i % 6]!));
}

/** The hostile bytes of `kind`; `replay` needs the last real event frame. */
export function hostileBytes(kind: HostileKind, lastEventFrame: Buffer | null): Buffer {
  switch (kind) {
    case 'bad-crc': {
      const body = fakeBill();
      body[body.length - 1]! ^= 0xff;
      return stuff(body);
    }
    case 'truncated': {
      const framed = stuff(fakeBill());
      return framed.subarray(0, Math.floor(framed.length / 2));
    }
    case 'oversized':
      return Buffer.concat([Buffer.from([STX]), Buffer.alloc(MAX_PAYLOAD + 64, 0x41), Buffer.from([ETX])]);
    case 'garbage':
      return noise(48);
    case 'unknown-type':
      return stuff(frameBody({ seq: 0xbeef, type: 0x7e, payload: Buffer.from('hello?') }));
    case 'bad-payload':
      return stuff(frameBody({ seq: 0xbeef, type: typeCode('event'), payload: Buffer.from([1, 2, 3]) }));
    case 'unknown-event': {
      const payload = Buffer.alloc(9);
      payload.writeUInt32BE(FAKE_EVENT_ID, 0);
      payload[8] = 0x7f;
      return stuff(frameBody({ seq: 0xbeef, type: typeCode('event'), payload }));
    }
    case 'replay':
      if (!lastEventFrame) throw new Error('no event frame sent yet');
      return lastEventFrame;
  }
}
