/** What the numbers were measured on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  ramBytes: number;
  node: string;
  kernel: string;
  date: string;
  /** The 1, 5 and 15 minute load averages when the run started (`uptime`): other work on the machine. */
  loadAverage: number[];
}

function cpuModel(): string {
  const fromOs = os.cpus()[0]?.model?.trim();
  if (fromOs) return fromOs;
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): Machine {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    ramBytes: os.totalmem(),
    node: process.version,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadAverage: os.loadavg(),
  };
}

export function machineLines(machine: Machine): string[] {
  return [
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores (shared by every process in the bench: load generator, gateway, CRM sink)`,
    `- RAM: ${(machine.ramBytes / 1024 ** 3).toFixed(1)} GiB`,
    `- Node: ${machine.node} · ${machine.kernel}`,
    `- Date: ${machine.date}`,
    `- Load average at the start (1, 5, 15 min, as \`uptime\` prints it): ${machine.loadAverage.map((v) => v.toFixed(2)).join(', ')}; at the end: ${os.loadavg().map((v) => v.toFixed(2)).join(', ')}`,
  ];
}
