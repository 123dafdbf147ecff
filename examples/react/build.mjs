// Builds the React example with esbuild into dist/ (or --outdir DIR): src/main.tsx bundled with React and
// @qrgate/client, plus index.html. The gateway's origin is fixed at build time from QRGATE_URL (default: the
// `npm start` demo, http://127.0.0.1:3000), like a VITE_* variable would be. `--serve` also serves dist/ on
// PORT (default 8080); start the gateway with ALLOWED_ORIGINS=http://localhost:8080.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
const args = process.argv.slice(2);
const outdirAt = args.indexOf('--outdir');
const outdir = outdirAt >= 0 && args[outdirAt + 1] !== undefined ? resolve(args[outdirAt + 1]) : join(here, 'dist');
const gatewayUrl = process.env.QRGATE_URL ?? 'http://127.0.0.1:3000';

mkdirSync(outdir, { recursive: true });
const options = {
  absWorkingDir: here,
  entryPoints: ['src/main.tsx'],
  outfile: join(outdir, 'main.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  jsx: 'automatic',
  minify: true,
  sourcemap: true,
  define: { 'process.env.NODE_ENV': '"production"', QRGATE_URL: JSON.stringify(gatewayUrl) },
  // Lets a checkout resolve @qrgate/client from a folder where its tarball was installed (see the README).
  nodePaths: (process.env.NODE_PATH ?? '').split(':').filter((p) => p !== ''),
  logLevel: 'warning',
};
copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));

if (args.includes('--serve')) {
  const context = await esbuild.context(options);
  await context.watch();
  const { port } = await context.serve({ servedir: outdir, port: Number(process.env.PORT ?? 8080) });
  console.log(`react example on http://localhost:${port}/ (gateway ${gatewayUrl})`);
} else {
  await esbuild.build(options);
  console.log(`built ${outdir} (gateway ${gatewayUrl})`);
}
