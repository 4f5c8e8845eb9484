import { EXIT_CODES, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/**
 * Writes a report file after its results were already printed. When writing fails this late (the disk
 * filled up, the folder vanished), the run's results are not lost: one line says where the report could
 * not be written and the exit code becomes 1 (unless the run had already failed).
 */
export async function writeReportOrSay(path: string, text: string, say: (line: string) => void): Promise<boolean> {
  try {
    await writeFileAtomic(path, text);
    return true;
  } catch (error) {
    say(`Error: the report could not be written to ${path} (${errorMessage(error).split('\n')[0] ?? ''}); the results above are complete.`);
    say('  Try this: free space or pass another --out, and run again.');
    if (!process.exitCode) process.exitCode = EXIT_CODES.failed;
    return false;
  }
}
