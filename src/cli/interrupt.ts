import { EXIT_CODES, ModelscoutError } from '../errors.js';

/**
 * The one SIGINT/SIGTERM handler of long commands. The first signal aborts the work through its
 * AbortSignal (the core stops between chunks, removes its temporary files and kills its child processes)
 * and the command exits 130 (SIGINT) or 143 (SIGTERM) with one line; a second signal exits at once.
 */
export async function withInterrupts<T>(work: (signal: AbortSignal) => Promise<T>, options: { onInterrupt?: (signal: NodeJS.Signals) => void } = {}): Promise<T> {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const exitCodeOf = (name: NodeJS.Signals): number => (name === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted);
  const onSignal = (name: NodeJS.Signals): void => {
    if (received !== null) process.exit(exitCodeOf(received));
    received = name;
    options.onInterrupt?.(name);
    controller.abort(interruptedError(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await work(controller.signal);
    if (received !== null) throw interruptedError(received);
    return result;
  } catch (error) {
    if (received !== null) throw interruptedError(received);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function interruptedError(name: NodeJS.Signals): ModelscoutError {
  const exitCode = name === 'SIGTERM' ? EXIT_CODES.terminated : EXIT_CODES.interrupted;
  return new ModelscoutError('E_INTERRUPTED', `interrupted (${name}): stopped, temporary files removed, nothing half-written was published`, { exitCode });
}
