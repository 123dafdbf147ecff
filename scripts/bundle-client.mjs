// Bundles the browser client (libs/client, socket.io-client included) twice from the same sources:
// - dist/client/qrgate.js, minified, which the gateway serves at /client/qrgate.js;
// - libs/client/dist/index.js, readable, the JavaScript of the @qrgate/client package (its .d.ts files come
//   from `tsc -p libs/client/tsconfig.json`). socket.io-client is bundled in, so the package has no runtime
//   dependencies and always speaks the Socket.IO protocol version the gateway was built and tested with.
// tsc type-checks the same sources; esbuild only strips types and bundles.
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

const common = {
  absWorkingDir: root,
  entryPoints: ['libs/client/index.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  sourcemap: true,
  // The maps name the original files and lines but do not embed their text: the package and the served bundle
  // would otherwise carry a copy of every bundled dependency's sources, comments and all.
  sourcesContent: false,
  legalComments: 'linked',
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, outfile: 'dist/client/qrgate.js', minify: true }),
  build({ ...common, outfile: 'libs/client/dist/index.js', minify: false }),
]);
