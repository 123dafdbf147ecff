/**
 * Resident memory of a process read from outside (`/proc/<pid>/status`, VmRSS), the same way for qrgate and
 * for the floor, so neither is measured by its own code.
 */
import { readFile } from 'node:fs/promises';

/** The resident set size of `pid`, bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * The resident size once it has settled: sample every 200 ms until two samples 1 s apart differ by < 1 %
 * (or `maxMs` passes), so a measurement is not taken in the middle of a burst of allocation.
 */
export async function settledResidentBytes(pid: number, maxMs = 6_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let previous = await residentBytes(pid);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const current = await residentBytes(pid);
    if (Math.abs(current - previous) < previous * 0.01 || Date.now() > deadline) return current;
    previous = current;
  }
}
