/**
 * helmet's security headers (contract §8), worked out once. helmet with its defaults writes the
 * same headers on every answer, through a chain of eleven middleware functions; running that
 * chain per request cost a check about a tenth of its time. helmet stays the source of the
 * values: it runs once, at start, on a recording response, and each answer gets the list.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** The headers helmet() sets with its defaults (it reads nothing of the request for them). */
export function helmetHeaders(): HeaderList {
  const headers = new Map<string, readonly [string, string]>();
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name.toLowerCase(), [name, Array.isArray(value) ? value.join(', ') : String(value)]);
      return recorder;
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
  };
  let done = false;
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    done = true;
  });
  // helmet's default middleware is synchronous; anything else would be a change to look at.
  if (!done) throw new Error('helmet() did not finish synchronously');
  return [...headers.values()];
}

export function setHeaders(res: ServerResponse, list: HeaderList): void {
  for (const [name, value] of list) res.setHeader(name, value);
}
