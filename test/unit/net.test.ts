import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostUrl, joinHostPort } from '../../src/net.js';
import { joinHostPort as registerJoinHostPort } from '../../src/register/index.js';

test('joinHostPort brackets IPv6 hosts once, as Go writes them', () => {
  assert.equal(joinHostPort('127.0.0.1', 9100), '127.0.0.1:9100');
  assert.equal(joinHostPort('web-1.example', 9100), 'web-1.example:9100');
  assert.equal(joinHostPort('::1', 9100), '[::1]:9100');
  assert.equal(joinHostPort('[::1]', 9100), '[::1]:9100');
  assert.equal(joinHostPort('fe80::1%eth0', 80), '[fe80::1%eth0]:80');
  assert.equal(registerJoinHostPort, joinHostPort, 'the register library exports the same function');
});

test('hostUrl writes scheme://host:port with the same brackets', () => {
  assert.equal(hostUrl('http', '127.0.0.1', 9911), 'http://127.0.0.1:9911');
  assert.equal(hostUrl('https', '::', 443), 'https://[::]:443');
});
