/**
 * A TCP proxy between gateway connections and Redis that injects faults, run as its own
 * process so that a test can also SIGSTOP it (a connection that hangs without closing).
 *
 *   node fault-proxy-process.js <listenPort>:<targetPort> [...]     (loopback only)
 *
 * Prints "ready" once listening. Takes one JSON command per stdin line, applied to every
 * connection from then on; each prints "ok" once applied:
 *   {"drop": "text"}            drop the next pub/sub message (Redis to client) containing text
 *   {"delayDown": ms}           deliver everything from Redis to clients ms late (a lagging link)
 *   {"delayUp": ms, "match": "text"}  from the first client chunk containing text on, deliver
 *                               that connection's bytes to Redis ms late
 *   {"cutAfter": "text"}        once a client chunk containing text has reached Redis, cut that
 *                               connection on both sides (its writer is gone)
 *   {"clear": true}             no more faults
 * It also prints "dropped" / "cut" / "delayed" when a fault fires.
 */
'use strict';
const net = require('node:net');
const readline = require('node:readline');

const faults = { drop: [], delayDown: 0, delayUp: null, cutAfter: null };

/** End offset of one complete RESP2 value in buf at offset, or -1 when incomplete. */
function respEnd(buf, offset) {
  if (offset >= buf.length) return -1;
  const line = buf.indexOf('\r\n', offset);
  if (line === -1) return -1;
  const type = String.fromCharCode(buf[offset]);
  const head = buf.toString('latin1', offset + 1, line);
  if (type === '+' || type === '-' || type === ':') return line + 2;
  if (type === '$') {
    const n = Number(head);
    if (n < 0) return line + 2;
    return buf.length >= line + 2 + n + 2 ? line + 2 + n + 2 : -1;
  }
  if (type === '*') {
    const n = Number(head);
    let at = line + 2;
    for (let i = 0; i < n; i += 1) {
      at = respEnd(buf, at);
      if (at === -1) return -1;
    }
    return at;
  }
  return buf.length; // not RESP: pass through as is
}

function isDroppedMessage(value) {
  const text = value.toString('latin1');
  if (!/^\*3\r\n\$7\r\nmessage\r\n/.test(text)) return false;
  const index = faults.drop.findIndex((needle) => text.includes(needle));
  if (index === -1) return false;
  faults.drop.splice(index, 1);
  process.stdout.write('dropped\n');
  return true;
}

function later(ms, fn) {
  if (ms > 0) setTimeout(fn, ms);
  else fn();
}

function pair(listenPort, targetPort) {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    let downBuffer = Buffer.alloc(0);
    let upDelay = 0;
    /** When the last chunk to Redis goes out: later chunks never overtake it. */
    let upLast = 0;
    let closed = false;
    let cutOff = false;
    const close = () => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => later(upDelay, () => upstream.end()));
    upstream.on('close', close);

    client.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (!faults.delayUp) upDelay = 0;
      if (faults.delayUp && !upDelay && text.includes(faults.delayUp.match)) {
        upDelay = faults.delayUp.ms;
        process.stdout.write('delayed\n');
      }
      const cut = faults.cutAfter !== null && text.includes(faults.cutAfter);
      upLast = Math.max(Date.now() + upDelay, upLast);
      later(upLast - Date.now(), () => {
        if (closed) return;
        upstream.write(chunk);
        if (cut) {
          process.stdout.write('cut\n');
          cutOff = true; // no reply reaches the writer either
          // Let the bytes reach Redis, then the connection is gone on both sides.
          setTimeout(close, 20);
        }
      });
      if (cut) client.pause();
    });

    upstream.on('data', (chunk) => {
      if (faults.drop.length === 0 && downBuffer.length === 0) {
        // Nothing to drop: pass bytes as they come (a replication stream is not all RESP).
        later(faults.delayDown, () => {
          if (!closed && !cutOff) client.write(chunk);
        });
        return;
      }
      downBuffer = Buffer.concat([downBuffer, chunk]);
      const out = [];
      let at = 0;
      for (;;) {
        const end = respEnd(downBuffer, at);
        if (end === -1) break;
        const value = downBuffer.subarray(at, end);
        if (!isDroppedMessage(value)) out.push(value);
        at = end;
      }
      downBuffer = downBuffer.subarray(at);
      if (out.length === 0) return;
      const bytes = Buffer.concat(out);
      later(faults.delayDown, () => {
        if (!closed && !cutOff) client.write(bytes);
      });
    });
  });
  return new Promise((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
}

const pairs = process.argv.slice(2).map((arg) => arg.split(':').map(Number));
Promise.all(pairs.map(([listen, target]) => pair(listen, target))).then(() => process.stdout.write('ready\n'));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.drop !== undefined) faults.drop.push(command.drop);
  if (command.delayDown !== undefined) faults.delayDown = command.delayDown;
  if (command.delayUp !== undefined) faults.delayUp = { ms: command.delayUp, match: command.match ?? '' };
  if (command.cutAfter !== undefined) faults.cutAfter = command.cutAfter;
  if (command.clear) Object.assign(faults, { drop: [], delayDown: 0, delayUp: null, cutAfter: null });
  process.stdout.write('ok\n');
});
process.stdin.on('end', () => process.exit(0));
