import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Request } from '../../../lib/scheduler/request.js';
import { RequestQueue } from '../../../lib/scheduler/request-queue.js';

const req = (requestId: string, priority: number, arrivalTime: number) =>
  new Request({ requestId, promptTokenIds: [1], priority, arrivalTime });

test('fcfs: arrival order; pushFront puts a request first; replace keeps the position', () => {
  const order = new Map<Request, number>();
  const queue = new RequestQueue('fcfs', (r) => order.get(r) ?? 0);
  const [a, b, c, d] = [req('a', 9, 1), req('b', 0, 2), req('c', 0, 3), req('d', 0, 4)];
  queue.push(a);
  queue.push(b);
  queue.pushFront(c);
  assert.deepEqual([...queue].map((r) => r.requestId), ['c', 'a', 'b']);
  assert.equal(queue.replace(a, [d, a]), true);
  assert.deepEqual([...queue].map((r) => r.requestId), ['c', 'd', 'a', 'b']);
  assert.equal(queue.remove(d), true);
  assert.equal(queue.remove(d), false);
  assert.equal(queue.pop(), c);
  assert.equal(queue.peek(), a);
  assert.equal(queue.length, 2);
});

test('priority: (priority, arrival, order added); a preempted request returns to its place', () => {
  const added = new Map<string, number>();
  const queue = new RequestQueue('priority', (r) => added.get(r.requestId) ?? 0);
  const items = [req('low-old', 2, 1), req('high-new', 0, 5), req('high-old', 0, 3), req('tie-b', 1, 4), req('tie-a', 1, 4)];
  items.forEach((r, i) => added.set(r.requestId, i === 3 ? 10 : i));
  for (const r of items) queue.push(r);
  assert.deepEqual([...queue].map((r) => r.requestId), ['high-old', 'high-new', 'tie-a', 'tie-b', 'low-old']);
  const first = queue.pop() as Request;
  queue.pushFront(req('mid', 1, 0));
  queue.pushFront(first);
  assert.deepEqual([...queue].map((r) => r.requestId), ['high-old', 'high-new', 'mid', 'tie-a', 'tie-b', 'low-old']);
});
