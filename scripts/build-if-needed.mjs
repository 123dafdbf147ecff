// Builds dist/ when it is missing or older than any TypeScript source, so `npm start` works on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const marker = join(root, 'dist/apps/standalone/main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // Build outputs (libs/client/dist holds the package's .d.ts files) are not sources.
    if (entry.isDirectory() && (entry.name === 'dist' || entry.name === 'node_modules')) continue;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const sourceTime = Math.max(newestSource(join(root, 'apps')), newestSource(join(root, 'libs')));
if (!existsSync(marker) || statSync(marker).mtimeMs < sourceTime) {
  console.log('qrgate: building dist/ …');
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
}
