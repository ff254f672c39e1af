'use strict';
/**
 * An open-loop load at a fixed offered rate, evenly spaced: request i is due at start + i/rate,
 * whatever happened to the ones before it, and its latency is counted from that due time (a
 * server that falls behind shows it in the latency rather than by being asked less: no
 * coordinated omission).
 *
 * autocannon's `overallRate` is not used for this: each of its connections sends its whole
 * second's share at once at the start of every second, so it measures bursts, and it then
 * corrects for coordinated omission with a 1 ms expected interval, which adds phantom samples
 * to the tail. Node's own http client costs too much per request to offer thousands a second
 * from one core; so this speaks HTTP/1.1 itself over keep-alive sockets, with every request
 * serialized in advance and only the status line and Content-Length of an answer read.
 *
 * pacedLoad({ url, requests, rate, seconds, connections }) -> { rps, p50, p99, bad, sent }
 * `requests`: [{ method, path, headers, body }], cycled. At most `connections` sockets, one
 * request at a time each; a request due while all are busy waits for one, and that wait counts.
 */
const net = require('node:net');

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function serialize(target, r) {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const headers = { host: target.host, ...(r.headers || {}) };
  if (body.length > 0 || r.method !== 'GET') headers['content-length'] = String(body.length);
  const head = `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

function pacedLoad({ url, requests, rate, seconds, connections = 64 }) {
  const target = new URL(url);
  const wire = requests.map((r) => serialize(target, r));
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const latencies = [];
  const due = []; // due times (ms, performance.now()) of requests waiting for a socket
  const idle = [];
  const sockets = [];
  let sent = 0;
  let scheduled = 0;
  let done = 0;
  let bad = 0;
  let start = 0;

  return new Promise((resolve, reject) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      for (const s of sockets) s.destroy();
      clearTimeout(bound);
      const elapsed = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      resolve({ rps: (done - bad) / Math.max(elapsed, seconds), p50: percentile(latencies, 50), p99: percentile(latencies, 99), bad, sent });
    };
    const complete = (ok, dueAt) => {
      latencies.push(performance.now() - dueAt);
      if (!ok) bad += 1;
      done += 1;
      if (done === total) finish();
    };

    // A hard bound: whatever is still unanswered this long after the last request was due
    // counts as failed, so that one lost answer cannot hold the run forever.
    const bound = setTimeout(() => {
      for (const s of sockets) if (s.current) complete(false, s.current.dueAt);
      bad += total - done;
      done = total;
      finish();
    }, (seconds + 30) * 1000);
    bound.unref();

    const open = () => {
      const socket = net.connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      let buffer = Buffer.alloc(0);
      let current; // { dueAt }
      socket.send = (dueAt) => {
        current = { dueAt };
        socket.current = current;
        socket.write(wire[sent % wire.length]);
        sent += 1;
      };
      socket.on('data', (chunk) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0 || !current) return;
          const head = buffer.subarray(0, end).toString('latin1');
          const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          const length = match ? Number(match[1]) : 0;
          if (buffer.length < end + 4 + length) return;
          buffer = buffer.subarray(end + 4 + length);
          const ok = head.startsWith('HTTP/1.1 200');
          const { dueAt } = current;
          current = undefined;
          socket.current = undefined;
          complete(ok, dueAt);
          if (due.length > 0) socket.send(due.shift());
          else idle.push(socket);
        }
      });
      socket.on('error', (error) => {
        if (!finished && done === 0 && sent === 0) reject(error);
      });
      socket.on('close', () => {
        if (finished) return;
        if (current) {
          complete(false, current.dueAt);
          current = undefined;
          socket.current = undefined;
        }
        // A socket the server closed (an idle keep-alive timeout, say) is replaced, never reused.
        const at = idle.indexOf(socket);
        if (at >= 0) idle.splice(at, 1);
        open().then((fresh) => {
          if (finished) return;
          if (due.length > 0) fresh.send(due.shift());
          else idle.push(fresh);
        }, () => {});
      });
      sockets.push(socket);
      return new Promise((ready) => socket.once('connect', () => ready(socket)));
    };

    Promise.all(Array.from({ length: connections }, open)).then((ready) => {
      idle.push(...ready);
      start = performance.now();
      const tick = () => {
        const now = performance.now();
        const dueCount = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
        while (scheduled < dueCount) {
          const dueAt = start + scheduled * intervalMs;
          scheduled += 1;
          const socket = idle.pop();
          if (socket) socket.send(dueAt);
          else due.push(dueAt);
        }
        // A 1 ms tick: at 5,000 req/s five requests leave together; a busy loop would take a core.
        if (scheduled < total) setTimeout(tick, 1);
      };
      tick();
    }, reject);
  });
}

module.exports = { pacedLoad };
