// The pending-bytes budget: shared bodies count once, bytes come back when responses close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { ResponseBudget } from '../../src/http/budget.js';

const response = (): ServerResponse => new ServerResponse(new IncomingMessage(new Socket()));

test('a body held by several responses counts once and is released with the last', () => {
  const b = new ResponseBudget(100);
  const body = Buffer.alloc(60);
  const r1 = response();
  const r2 = response();
  assert.ok(b.hold(r1, body));
  assert.ok(b.hold(r2, body), 'the same body needs no more budget');
  assert.equal(b.bytes, 60);
  assert.equal(b.hold(response(), Buffer.alloc(60)), false, 'a second distinct body would overrun');
  assert.equal(b.refused, 1);
  r1.emit('close');
  assert.equal(b.bytes, 60);
  r2.emit('close');
  assert.equal(b.bytes, 0);
  assert.ok(b.hasRoom());
});

test('a body larger than the whole budget is served when nothing else is pending', () => {
  const b = new ResponseBudget(10);
  const r = response();
  assert.ok(b.hold(r, Buffer.alloc(50)));
  assert.equal(b.hasRoom(), false);
  r.emit('close');
  assert.equal(b.bytes, 0);
});
