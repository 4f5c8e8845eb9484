import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepStaleTemps, temporarySibling } from '../../src/util/atomic-write.js';

/** Above Linux's largest pid (2^22): no such process. */
const DEAD = 2 ** 22 + 7;
const HERE = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);
const OTHER = HERE === 'abcdef' ? '123456' : 'abcdef';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelscout-sweep-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('temporary entries', () => {
  it('are named with the pid and a tag of this host', () => {
    expect(basename(temporarySibling(join(dir, 'model.onnx')))).toMatch(new RegExp(`^\\.model\\.onnx\\.tmp-${process.pid}\\.${HERE}-[0-9a-f]{8}$`));
    expect(basename(temporarySibling(join(dir, 'model.onnx'), 'link'))).toMatch(new RegExp(`^\\.model\\.onnx\\.link-${process.pid}\\.${HERE}-[0-9a-f]{8}$`));
  });

  it("a sweep removes this host's entries whose process is gone, and nothing else", async () => {
    const names = {
      deadHere: `.a.onnx.tmp-${DEAD}.${HERE}-0011aabb`,
      deadHereOld: `.b.tmp-${DEAD}.${HERE}-0011aabb.old`,
      deadOlderVersion: `.c.link-${DEAD}-0011aabb`,
      liveHere: `.d.onnx.tmp-${process.pid}.${HERE}-0011aabb`,
      // Another machine writing into a shared folder: whether its process runs cannot be told from here.
      otherHost: `.e.onnx.tmp-${DEAD}.${OTHER}-0011aabb`,
      notOurs: '.f.onnx.tmp-12-abc',
      model: 'model.onnx',
    };
    for (const name of Object.values(names)) await writeFile(join(dir, name), 'x');
    await mkdir(join(dir, `.folder.tmp-${DEAD}.${HERE}-22334455`));
    await writeFile(join(dir, `.folder.tmp-${DEAD}.${HERE}-22334455`, 'model.onnx'), 'x');
    const removed = await sweepStaleTemps(dir);
    expect(removed.sort()).toEqual([names.deadHere, names.deadHereOld, names.deadOlderVersion, `.folder.tmp-${DEAD}.${HERE}-22334455`].sort());
    expect((await readdir(dir)).sort()).toEqual([names.liveHere, names.otherHost, names.notOurs, names.model].sort());
  });
});
