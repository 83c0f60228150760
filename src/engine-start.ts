/**
 * @module engine-start
 * main.ts's first import, for its side effect: where the environment lacks one of the engine's start-up settings
 * (engine.ts), the process starts again with it set, before the rest of Switchboard loads. Nothing else imports it.
 */
import { missingEngineSettings, restartArgs } from './engine.ts';

const missing = missingEngineSettings(process.env);
if (missing && process.platform !== 'win32' && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, restartArgs(process.argv0, process.execArgv, process.argv), { ...process.env, ...missing });
  } catch {
    // cannot exec here (a sandbox, say): run on with Bun's defaults; the `listening` log line shows what is in force
  }
}
