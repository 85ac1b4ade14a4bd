/** What a subcommand may use of the process, passed in so commands stay testable. */
import type { Env, ReadFile } from '../config/file.js';

/** The process, as seen by one subcommand. */
export interface CliContext {
  readonly argv: readonly string[];
  readonly env: Env;
  readonly readFile: ReadFile;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Resolves on the first SIGTERM or SIGINT. */
  readonly stopSignal: Promise<NodeJS.Signals>;
}

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
