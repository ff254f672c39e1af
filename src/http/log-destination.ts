/**
 * Where log lines go: stdout, through a bounded buffer, never blocking the process.
 *
 * pino's default destination writes synchronously (and Node writes to a pipe synchronously on
 * Linux): with stdout a pipe that nobody reads (a log shipper that hangs), a full pipe stalls
 * the process, and the flush at exit never returns. Here stdout is switched to non-blocking
 * writes, which libuv finishes when the pipe has room, with no thread left waiting on it;
 * while the consumer is stuck, lines wait in the stream's buffer up to `maxBytes`, and past it
 * they are dropped and counted (`gateway_log_lines_dropped_total`). Shutdown waits for the
 * buffer only a moment.
 */
import type { Writable } from 'node:stream';

type Stdout = Writable & { _handle?: { setBlocking?: (blocking: boolean) => void } };

export class BoundedLogDestination {
  /** Lines dropped because the buffer was full, or because the consumer is gone. */
  dropped = 0;
  private gone = false;

  constructor(
    private readonly stream: Stdout = process.stdout,
    private readonly maxBytes = 256 * 1024,
  ) {
    stream._handle?.setBlocking?.(false);
    stream.on('error', () => {
      // The consumer is gone (EPIPE): stop writing, count what is lost.
      this.gone = true;
    });
  }

  write(line: string): boolean {
    if (this.gone || this.stream.writableLength + Buffer.byteLength(line) > this.maxBytes) {
      this.dropped += 1;
      return false;
    }
    this.stream.write(line);
    return true;
  }

  /** Resolves once everything buffered is written, or after `timeoutMs`, whichever is first. */
  flush(timeoutMs: number): Promise<void> {
    if (this.stream.writableLength === 0 || this.gone) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stream.off('drain', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.stream.once('drain', done);
    });
  }
}
