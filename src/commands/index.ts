/** Every command family, registered into one table (duplicates are refused). */
import type { CommandTable } from './registry.js';
import { connectionCommands } from './connection.js';
import { serverCommands } from './server.js';
import { stringCommands } from './strings.js';
import { keyCommands } from './keys.js';
import { aclCommands } from './acl.js';

export function registerAll(table: CommandTable): void {
  for (const family of [connectionCommands, serverCommands, stringCommands, keyCommands, aclCommands]) {
    for (const spec of family) table.add(spec);
  }
}
