/** Connection commands: PING, ECHO, HELLO, AUTH, QUIT, SELECT, CLIENT. */
import { command, ERR, parseSafeInteger, withSubcommands, word, type CommandContext, type CommandSpec, type ClientState } from './registry.js';
import { REDIS_COMPAT_VERSION } from './version.js';

/**
 * AUTH [user] password and HELLO's AUTH: the connection runs as `user` (or `default`) from now on.
 * As in Redis, a nopass user accepts any password when named (AUTH default x while the default
 * user has no password); only the one-argument form is an error then.
 */
function auth(ctx: CommandContext, user: Buffer | null, pass: Buffer): boolean {
  const users = ctx.server.users;
  if (user === null && users.openByDefault) {
    ctx.out.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    return false;
  }
  const found = users.authenticate(user === null ? 'default' : user.toString('latin1'), pass);
  if (found === null) {
    ctx.out.error(ERR.wrongPass);
    return false;
  }
  ctx.client.user = found;
  ctx.client.authenticated = true;
  return true;
}

/** CLIENT LIST / CLIENT INFO line for one client, in Redis's field order. */
export function clientLine(c: ClientState, now: number): string {
  return [
    `id=${c.id}`, `addr=${c.addr}`, `laddr=${c.laddr}`, 'fd=-1', `name=${c.name}`,
    `age=${Math.floor((now - c.createdAt) / 1000)}`, `idle=${Math.floor((now - c.lastCommandAt) / 1000)}`,
    'flags=N', `db=${c.db}`, 'sub=0', 'psub=0', 'ssub=0', 'multi=-1', 'qbuf=0', 'qbuf-free=0',
    'argv-mem=0', 'multi-mem=0', 'rbs=0', 'rbp=0', 'obl=0', 'oll=0', 'omem=0', 'tot-mem=0',
    'events=r', `cmd=${c.lastCommand}`, `user=${c.user.name}`, 'redir=-1', `resp=${c.resp}`,
    `lib-name=${c.libName}`, `lib-ver=${c.libVersion}`,
  ].join(' ');
}

/** Client names may not contain spaces, newlines or other special characters. */
function validName(b: Buffer): boolean {
  for (const c of b) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

const CLIENT_PLAIN = ['noscript', 'loading', 'stale'];
const CLIENT_ADMIN = ['admin', 'noscript', 'loading', 'stale'];

export const connectionCommands: CommandSpec[] = [
  command('ping', -1, ['fast', 'stale'], [0, 0, 0], 'connection', 'Returns the server\'s liveliness response.', (ctx, args) => {
    if (args.length > 2) return ctx.out.error(ERR.wrongArity('ping'));
    if (args.length === 2) ctx.out.bulk(args[1]);
    else ctx.out.simple('PONG');
  }),
  command('echo', 2, ['fast', 'stale'], [0, 0, 0], 'connection', 'Returns the given string.', (ctx, args) => ctx.out.bulk(args[1])),
  command('quit', -1, ['fast', 'noauth'], [0, 0, 0], 'connection', 'Closes the connection.', (ctx) => {
    ctx.out.simple('OK');
    ctx.client.closing = true;
  }),
  command('select', 2, ['fast', 'loading', 'stale'], [0, 0, 0], 'connection', 'Changes the selected database.', (ctx, args) => {
    const db = parseSafeInteger(args[1]);
    if (db === null) return ctx.out.error(ERR.notInteger);
    if (db !== 0) return ctx.out.error(ERR.dbIndex);
    ctx.out.simple('OK');
  }),
  command('auth', -2, ['fast', 'noauth', 'no-script'], [0, 0, 0], 'connection', 'Authenticates the connection.', (ctx, args) => {
    if (args.length > 3) return ctx.out.error(ERR.syntax);
    if (auth(ctx, args.length === 3 ? args[1] : null, args[args.length - 1])) ctx.out.simple('OK');
  }),
  command('hello', -1, ['fast', 'noauth', 'no-script'], [0, 0, 0], 'connection', 'Handshakes with the server.', (ctx, args) => {
    let proto: number = ctx.client.resp;
    let i = 1;
    if (args.length > 1) {
      const v = parseSafeInteger(args[1]);
      if (v === null) return ctx.out.error('ERR Protocol version is not an integer or out of range');
      if (v !== 2 && v !== 3) return ctx.out.error('NOPROTO unsupported protocol version');
      proto = v;
      i = 2;
    }
    let setName: Buffer | null = null;
    for (; i < args.length; i++) {
      const opt = word(args[i]);
      if (opt === 'AUTH' && i + 2 < args.length) {
        if (!auth(ctx, args[i + 1], args[i + 2])) return;
        i += 2;
      } else if (opt === 'SETNAME' && i + 1 < args.length) {
        setName = args[++i];
        if (!validName(setName)) return ctx.out.error('ERR Client names cannot contain spaces, newlines or special characters.');
      } else {
        return ctx.out.error(`ERR Syntax error in HELLO option '${args[i].toString('latin1')}'`);
      }
    }
    if (!ctx.client.authenticated) {
      return ctx.out.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    }
    if (setName !== null) ctx.client.name = setName.toString('latin1');
    ctx.client.resp = proto as 2 | 3;
    ctx.out.protocol = proto as 2 | 3;
    const o = ctx.out;
    o.map(7);
    o.bulk('server'); o.bulk('redis');
    o.bulk('version'); o.bulk(REDIS_COMPAT_VERSION);
    o.bulk('proto'); o.integer(proto);
    o.bulk('id'); o.integer(ctx.client.id);
    o.bulk('mode'); o.bulk('standalone');
    o.bulk('role'); o.bulk('master');
    o.bulk('modules'); o.array(0);
  }),
  withSubcommands(command('client', -2, ['slow', 'loading', 'stale'], [0, 0, 0], 'connection', 'A container for client connection commands.', (ctx, args) => {
    const sub = word(args[1]);
    const o = ctx.out;
    const now = Date.now();
    switch (sub) {
      case 'ID':
        if (args.length !== 2) return o.error(ERR.wrongArity('client|id'));
        return o.integer(ctx.client.id);
      case 'GETNAME':
        if (args.length !== 2) return o.error(ERR.wrongArity('client|getname'));
        return ctx.client.name ? o.bulk(ctx.client.name) : o.nil();
      case 'SETNAME':
        if (args.length !== 3) return o.error(ERR.wrongArity('client|setname'));
        if (!validName(args[2])) return o.error('ERR Client names cannot contain spaces, newlines or special characters.');
        ctx.client.name = args[2].toString('latin1');
        return o.simple('OK');
      case 'SETINFO': {
        if (args.length !== 4) return o.error(ERR.wrongArity('client|setinfo'));
        const attr = word(args[2]);
        if (!validName(args[3]) && args[3].length > 0) return o.error(`ERR ${attr} cannot contain spaces, newlines or special characters.`);
        if (attr === 'LIB-NAME') ctx.client.libName = args[3].toString('latin1');
        else if (attr === 'LIB-VER') ctx.client.libVersion = args[3].toString('latin1');
        else return o.error(`ERR Unrecognized option '${args[2].toString('latin1')}'`);
        return o.simple('OK');
      }
      case 'INFO':
        if (args.length !== 2) return o.error(ERR.wrongArity('client|info'));
        return o.verbatim(clientLine(ctx.client, now) + '\n');
      case 'LIST': {
        if (args.length !== 2 && !(args.length === 4 && word(args[2]) === 'TYPE')) return o.error(ERR.syntax);
        const lines = [...ctx.server.clients()].map((c) => clientLine(c, now) + '\n').join('');
        return o.verbatim(lines);
      }
      case 'HELP':
        o.array(7);
        for (const l of ['CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:', 'ID', 'GETNAME', 'SETNAME <name>',
          'SETINFO <LIB-NAME|LIB-VER> <value>', 'INFO', 'LIST [TYPE NORMAL]']) o.simple(l);
        return;
      default:
        return o.error(ERR.unknownSubcommand(args[1].toString('latin1'), 'client'));
    }
  }), {
    // Redis's flags for each subcommand: those that show or act on other clients are @admin.
    id: CLIENT_PLAIN, getname: CLIENT_PLAIN, setname: CLIENT_PLAIN, setinfo: CLIENT_PLAIN, info: CLIENT_PLAIN,
    help: ['loading', 'stale'], list: CLIENT_ADMIN, kill: CLIENT_ADMIN, pause: CLIENT_ADMIN, unpause: CLIENT_ADMIN,
    'no-evict': CLIENT_ADMIN, 'no-touch': CLIENT_PLAIN, reply: CLIENT_PLAIN, tracking: CLIENT_PLAIN, unblock: CLIENT_ADMIN,
  }),
];
