/**
 * CPU time of a process read from outside (`/proc/<pid>/stat`), the same way for qrgate and for the floor.
 * A measured step waits until the server is idle, so what an earlier step left behind (thousands of sockets
 * closing at once) is not counted against the next one.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time `pid` has used, seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Wait until `pid` used under a tenth of a core over half a second (or `maxMs` passed). */
export async function idleCpu(pid: number, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let previous = await cpuSeconds(pid);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const current = await cpuSeconds(pid);
    if (current - previous < 0.05) return;
    previous = current;
  }
}
