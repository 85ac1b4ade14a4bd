// Messages users meet: the flag and the bad name (never a label's value), --ttl as its message
// says, an IPv6 listen hint, and grpc's dangling "Resolution note:" gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRegisterConfig, type SystemInfo } from '../../src/cli/register.js';
import { loadServeConfig } from '../../src/config/serve.js';
import { errorMessage } from '../../src/errors.js';

const SYSTEM: SystemInfo = { hostname: () => 'box', interfaces: () => ({}) };
const noFile = (): Buffer => {
  throw new Error('no files in this test');
};
const REQUIRED = ['--group', 'web', '--exporter-type', 'node_exporter', '--port', '9100', '--host', '10.0.0.1'];

test('a bad label names the flag and the label, never its value', () => {
  for (const [label, message] of [['a.b=s3cret-value', /--label: label a\.b: must match/], ['__x=s3cret-value', /--label: label __x: names starting with "__" are reserved/], ['=s3cret-value', /--label: expected NAME=VALUE, got no name before "="/]] as const) {
    assert.throws(() => loadRegisterConfig([...REQUIRED, '--label', label], {}, noFile, SYSTEM), (err: Error) => {
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /s3cret-value/);
      return true;
    });
  }
});

test('--ttl takes 30s, 2m and a plain number of seconds; anything else says what it takes', () => {
  assert.equal(loadRegisterConfig([...REQUIRED, '--ttl', '30'], {}, noFile, SYSTEM).ttlSeconds, 30);
  assert.equal(loadRegisterConfig([...REQUIRED, '--ttl', '2m'], {}, noFile, SYSTEM).ttlSeconds, 120);
  for (const bad of ['1.5s', '0', '500ms']) {
    assert.throws(() => loadRegisterConfig([...REQUIRED, '--ttl', bad], {}, noFile, SYSTEM), /--ttl: must be whole seconds, at least 1s .*30s, 2m or 30/);
  }
  assert.throws(() => loadRegisterConfig([...REQUIRED, '--ttl', 'soon'], {}, noFile, SYSTEM), /--ttl: expected a duration such as 500ms, 30s, 2m or 1h, or whole seconds \(30\), got "soon"/);
});

test('an unbracketed IPv6 listen address gets the bracketed spelling as a hint', () => {
  const listen = (v: string): void => void loadServeConfig(['--listen', v, '--etcd-endpoints', 'http://127.0.0.1:2379'], {}, noFile);
  assert.throws(() => listen('::1:9911'), /an IPv6 address goes in brackets: \[::1\]:9911/);
  assert.throws(() => listen('::9911'), /an IPv6 address goes in brackets: \[::\]:9911/);
  assert.throws(() => listen('[::1]'), /add the port after the bracket/);
  assert.equal(loadServeConfig(['--listen', '[::1]:9911', '--etcd-endpoints', 'http://127.0.0.1:2379'], {}, noFile).listen.host, '::1');
});

test('errorMessage drops grpc-js\'s empty "Resolution note:"', () => {
  const grpc = new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ');
  assert.equal(errorMessage(grpc), '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.');
  assert.equal(errorMessage(new Error('x. Resolution note: DNS said no')), 'x. Resolution note: DNS said no', 'a real note stays');
});
