/**
 * Conditional suites that never skip silently: when the condition does not hold, the reason is
 * printed (on stderr, which jest passes through) and the suite is skipped.
 */

function announce(reason: string): void {
  process.stderr.write(`\n*** SKIPPED: ${reason} ***\n\n`);
}

/** `describe` when `run` holds, else `describe.skip` after printing `whySkipped`. */
export function describeIf(run: boolean, whySkipped: string): jest.Describe {
  if (run) return describe;
  announce(whySkipped);
  return describe.skip;
}

/** `test` when `run` holds, else `test.skip` after printing `whySkipped`. */
export function testIf(run: boolean, whySkipped: string): jest.It {
  if (run) return test;
  announce(whySkipped);
  return test.skip;
}
