// Bundles the browser client (libs/client, socket.io-client included) into one ES module that the gateway
// serves at /client/qrgate.js. tsc type-checks the same sources; esbuild only strips types and bundles.
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

await build({
  absWorkingDir: root,
  entryPoints: ['libs/client/index.ts'],
  outfile: 'dist/client/qrgate.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
