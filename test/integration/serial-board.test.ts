/**
 * The board's side of the contract (docs/board-link.md §3–§4), checked on the
 * emulator with raw frames from the agent's end of a real pty: a replayed
 * request is answered again but executed once, and broken input is answered
 * or dropped without harm.
 */
import test from 'ava';
import { join } from 'node:path';
import { startEmulator } from '../../tools/board-emulator/client.js';
import { FrameDecoder, encodeFrame, frameBody, stuff, type Frame } from '../../shared/board-link/frame.js';
import { defaultPortFactory, type SerialPortLike } from '../../workers/hardware/serial/index.js';
import { decodePayload, encodePayload, typeCode, type Message } from '../../shared/board-link/messages.js';
import { waitFor } from '../helpers/env.js';
import { ptyPair } from '../helpers/pty.js';

test('replayed requests are answered again but executed once; broken ones are answered or dropped', async (t) => {
  const pty = await ptyPair();
  const board = await startEmulator({
    device: pty.boardPath,
    stateFile: join(pty.dir, 'board.json'),
    control: join(pty.dir, 'board.sock'),
    inventory: 10,
    coinMs: 5,
  });
  const port: SerialPortLike = defaultPortFactory({ path: pty.agentPath, baudRate: 115_200 });
  t.teardown(async () => {
    await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
    await board.kill();
    await pty.dispose();
  });
  port.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));

  // Only answers matter here; the board's events are left un-ACKed.
  const answers: { seq: number; msg: Message; raw: Buffer }[] = [];
  const decoder = new FrameDecoder((f: Frame) => {
    const msg = decodePayload(f.type, f.payload);
    if (msg && msg.name !== 'event') answers.push({ seq: f.seq, msg, raw: encodeFrame(f) });
  });
  port.on('data', (chunk) => decoder.push(chunk));
  const send = (bytes: Buffer): Promise<void> => new Promise((resolve) => port.write(bytes, () => resolve()));
  const request = (seq: number, m: Message): Buffer => encodeFrame({ seq, type: typeCode(m.name), payload: encodePayload(m) });
  const answerTo = async (seq: number, n = 1) => {
    const of = () => answers.filter((a) => a.seq === seq);
    await waitFor(() => of().length >= n, 5000, `answer ${n} to seq ${seq}`);
    return of();
  };

  await send(request(100, { name: 'hello', nonce: 1, version: 1 }));
  t.is((await answerTo(100))[0]!.msg.name, 'hello_reply');

  const payout = request(101, { name: 'payout', payoutId: 'P-replay', coins: 3 });
  await send(payout);
  await answerTo(101);
  await send(payout);
  const both = await answerTo(101, 2);
  t.like(both[0]!.msg, { name: 'payout_reply', known: false });
  t.deepEqual(both[1]!.raw, both[0]!.raw, 'the replay gets the saved answer, byte for byte');

  // Same seq, other bytes: a new request (here a repeat of the payout id, which the board reports as known).
  await send(request(101, { name: 'payout', payoutId: 'P-replay', coins: 4 }));
  t.like((await answerTo(101, 3))[2]!.msg, { name: 'payout_reply', known: true });

  await send(stuff(frameBody({ seq: 102, type: 0x7e, payload: Buffer.from('x') })));
  t.like((await answerTo(102))[0]!.msg, { name: 'error', code: 'unknown_type' });
  await send(stuff(frameBody({ seq: 103, type: typeCode('payout'), payload: Buffer.from([9, 1]) })));
  t.like((await answerTo(103))[0]!.msg, { name: 'error', code: 'bad_payload' });
  const badCrc = frameBody({ seq: 104, type: typeCode('ping'), payload: Buffer.alloc(0) });
  badCrc[badCrc.length - 1]! ^= 1;
  await send(Buffer.concat([Buffer.from('line noise'), stuff(badCrc), request(105, { name: 'ping' })]));
  t.is((await answerTo(105))[0]!.msg.name, 'pong');
  t.is(answers.filter((a) => a.seq === 104).length, 0, 'a frame with a bad CRC is not answered');

  await waitFor(async () => (await board.state()).state.payouts[0]?.state === 'done', 5000, 'the payout to end');
  const { state, received } = await board.state();
  t.is(state.payouts.length, 1);
  t.like(state.payouts[0], { payoutId: 'P-replay', requested: 3, paid: 3 });
  t.is(state.totals.paidOut, 3, 'paid once');
  t.like(received, { replayed: 1, unknown_type: 1, bad_payload: 1, bad_crc: 1, garbage: 10 });
});
