/**
 * Reads the ARC paper's block-I/O traces (/work/shared/traces, see its README) into page arrays.
 *
 * Each line `first_block block_count ignored request_no` stands for block_count page requests,
 * first_block .. first_block + block_count − 1. The gzip file is streamed through zlib and parsed
 * by hand (no per-line strings), into a growable Uint32Array of page numbers.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { REPO_ROOT } from './meshcache.js';

/** The traces directory: ../shared/traces relative to the repository root. */
export const TRACES_DIR = `${REPO_ROOT}../shared/traces/`;

/** Page requests of trace `name` (e.g. 'OLTP'), at most `limit` of them. */
export async function loadTrace(name: string, limit = Infinity): Promise<Uint32Array> {
  const path = `${TRACES_DIR}${name}.lis.gz`;
  if (!existsSync(path)) throw new Error(`trace ${path} not found`);
  let pages = new Uint32Array(1 << 20);
  let count = 0;
  const fields = [0, 0, 0, 0];
  let field = 0;
  let value = 0;
  let inNumber = false;
  const push = (page: number) => {
    if (count === pages.length) {
      const bigger = new Uint32Array(pages.length * 2);
      bigger.set(pages);
      pages = bigger;
    }
    pages[count++] = page;
  };
  const endLine = () => {
    if (field >= 2) {
      const [first, blocks] = fields;
      for (let b = 0; b < blocks && count < limit; b++) push(first + b);
    }
    field = 0;
  };
  const stream = createReadStream(path).pipe(createGunzip());
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i];
      if (ch >= 48 && ch <= 57) {
        value = value * 10 + (ch - 48);
        inNumber = true;
        continue;
      }
      if (inNumber) {
        if (field < 4) fields[field] = value;
        field++;
        value = 0;
        inNumber = false;
      }
      if (ch === 10) endLine();
    }
    if (count >= limit) {
      stream.destroy();
      break;
    }
  }
  if (inNumber && field < 4) fields[field++] = value;
  endLine();
  return pages.subarray(0, count);
}
