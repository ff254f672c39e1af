/** Log capture for tests that read what the gateway logged. */
import type { DestinationStream } from 'pino';

/** A pino destination that keeps every line written. */
export function memoryDestination(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(line);
    },
  };
}
