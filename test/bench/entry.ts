/**
 * Guards the harness's entry points. `npm test` runs `node --test dist/test/`,
 * which loads every file under a `test/` folder as a test file: an entry
 * point (the harness, the limit and alternative servers, the writer) must
 * then do nothing, or every test run would start a full benchmark.
 */

/** True when the file was loaded by `node --test` as a test file. */
export function loadedAsTestFile(): boolean {
  return process.env['NODE_TEST_CONTEXT'] !== undefined;
}

/** The environment without the test runner's marker, for a harness spawned from a test. */
export function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy['NODE_TEST_CONTEXT'];
  return copy;
}
