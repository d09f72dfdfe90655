/**
 * The layer rule of src/ (docs/architecture.md), checked by `npm run lint:deps` (part of `npm test`).
 * Bottom to top: core & the bottom modules → shard → cache → commands → server | mesh (| client);
 * entry points (CLI, package index, worker and thread boot files) may import anything.
 * Type-only imports count: a cycle through a type is still a cycle for a reader.
 */
const BOTTOM = '^src/(core/|resp/|native/|util/|errors\\.ts$|serializer\\.ts$|config\\.ts$|lz4\\.ts$)';
const ENTRY = '^src/(cli\\.ts|cluster\\.ts|index\\.ts|demo\\.ts|shard/worker(-tsx\\.mjs|\\.ts)|server/thread(-tsx\\.mjs|\\.ts))$';
const above = (dirs) => `^src/(${dirs.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import circle, type imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves to a file.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'bottom-imports-nothing-above',
      comment: 'core/, resp/, native/, util/ and the errors, serializer, config and lz4 modules sit at the bottom.',
      severity: 'error',
      from: { path: BOTTOM },
      to: { path: [above(['shard', 'cache', 'commands', 'server', 'mesh', 'client']), ENTRY] },
    },
    {
      name: 'shard-below-cache',
      comment: "shard/'s services sit between core/ and cache/ (the worker boot file is an entry point).",
      severity: 'error',
      from: { path: '^src/shard/', pathNot: ENTRY },
      to: { path: [above(['cache', 'commands', 'server', 'mesh', 'client']), ENTRY] },
    },
    {
      name: 'cache-below-commands',
      comment: 'The Cache is a bottom layer: it never imports commands/, server/, mesh/ or client/.',
      severity: 'error',
      from: { path: '^src/cache/' },
      to: { path: [above(['commands', 'server', 'mesh', 'client']), ENTRY] },
    },
    {
      name: 'commands-below-server-and-mesh',
      comment: 'The command layer talks to the mesh through ports (registry.ts, mesh.ts), never to server/ or mesh/.',
      severity: 'error',
      from: { path: '^src/commands/' },
      to: { path: [above(['server', 'mesh', 'client']), ENTRY] },
    },
    {
      name: 'server-and-mesh-apart',
      comment: 'server/ and mesh/ never import each other (cli.ts wires them together); client/ stands beside them.',
      severity: 'error',
      from: { path: '^src/server/', pathNot: ENTRY },
      to: { path: [above(['mesh', 'client']), ENTRY] },
    },
    {
      name: 'mesh-apart-from-server',
      severity: 'error',
      from: { path: '^src/mesh/' },
      to: { path: [above(['server', 'client']), ENTRY] },
    },
    {
      name: 'client-apart-from-server-and-mesh',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: [above(['server', 'mesh']), ENTRY] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
