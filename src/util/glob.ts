/**
 * Redis-style glob patterns (KEYS / SCAN MATCH): `*` any run, `?` one character, `[abc]`,
 * `[^a]`, `[a-z]` classes, and `\` to escape. Compiled once to a RegExp.
 */

/** A RegExp that matches whole keys against the glob `pattern`. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeChar(pattern[++i]);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        const d = body[j];
        if (d === '\\' && j + 1 < body.length) cls += escapeClass(body[++j]);
        else if (d === '-' && j > 0 && j + 1 < body.length) cls += '-';
        else cls += escapeClass(d);
      }
      re += `[${negate ? '^' : ''}${cls}]`;
      i = end;
    } else {
      re += escapeChar(c);
    }
  }
  return new RegExp(re + '$', 'u');
}

function escapeChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

function escapeClass(c: string): string {
  return /[\\\]^-]/.test(c) ? '\\' + c : c;
}
