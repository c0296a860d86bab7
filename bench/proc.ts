/** Linux /proc readers: CPU time and resident memory of any process on this machine, read from outside it. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** user + system CPU seconds the process has used so far (all its threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc/${pid}/stat`);
  return (utime + stime) / ticksPerSecond();
}

/** CPU seconds the whole machine has been busy (all cores, including steal), from the first line of /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (Number.isFinite(v) ? v! : 0), 0);
  return busy / ticksPerSecond();
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size over the process's life, bytes. */
  hwm: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Warms the CLK_TCK lookup so the first timed read does not fork getconf. */
export function primeProcReaders(): void {
  ticksPerSecond();
}

/** Samples a process's RSS every `intervalMs` until stopped; reports the largest seen. */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #peak = 0;
  #samples = 0;

  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    try {
      this.#peak = Math.max(this.#peak, memory(this.#pid).rss);
      this.#samples++;
    } catch {
      // the process is gone: the bench notices that elsewhere
    }
  }

  stop(): { peak: number; samples: number } {
    clearInterval(this.#timer);
    this.#sample();
    return { peak: this.#peak, samples: this.#samples };
  }
}

/** Idle RSS: the median of a few readings `intervalMs` apart. */
export async function idleRss(pid: number, readings = 10, intervalMs = 20): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < readings; i++) {
    values.push(memory(pid).rss);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}
