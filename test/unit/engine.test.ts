/**
 * engine: which start-up settings are missing, and the arguments the process starts again with (source and binary).
 * The restart itself is tested on real processes (test/process/main.test.ts) and on the binary (scripts/smoke-binary.sh).
 */
import { describe, expect, test } from 'bun:test';
import { ENGINE_DEFAULTS, missingEngineSettings, restartArgs } from '../../src/engine.ts';

describe('missingEngineSettings', () => {
  test('an empty environment lacks every setting, with its default', () => {
    expect(missingEngineSettings({})).toEqual({ BUN_CONFIG_MAX_HTTP_REQUESTS: '4096', BUN_JSC_largeHeapSize: String(16 * 1024 * 1024), SWITCHBOARD_ENGINE_RESTARTED: '1' });
  });

  test('a value the environment sets is kept, Bun\'s own default included; an empty one counts as unset', () => {
    expect(missingEngineSettings({ BUN_CONFIG_MAX_HTTP_REQUESTS: '256' })).toEqual({ BUN_JSC_largeHeapSize: ENGINE_DEFAULTS.BUN_JSC_largeHeapSize!, SWITCHBOARD_ENGINE_RESTARTED: '1' });
    expect(missingEngineSettings({ BUN_CONFIG_MAX_HTTP_REQUESTS: '256', BUN_JSC_largeHeapSize: '8388608' })).toBeNull();
    expect(missingEngineSettings({ BUN_CONFIG_MAX_HTTP_REQUESTS: '', BUN_JSC_largeHeapSize: '8388608' })).toEqual({ BUN_CONFIG_MAX_HTTP_REQUESTS: '4096', SWITCHBOARD_ENGINE_RESTARTED: '1' });
  });

  test('a process started again never starts again, whatever it lacks (no loop if a setting is dropped on the way)', () => {
    expect(missingEngineSettings({ SWITCHBOARD_ENGINE_RESTARTED: '1' })).toBeNull();
  });
});

describe('restartArgs', () => {
  test('from source: Bun\'s own flags, the script and its arguments', () => {
    expect(restartArgs('bun', ['--smol'], ['/usr/bin/bun', '/srv/sb/src/main.ts', '--port', '8080']))
      .toEqual(['bun', '--smol', '/srv/sb/src/main.ts', '--port', '8080']);
    expect(restartArgs('/usr/local/bin/bun', [], ['/usr/local/bin/bun', 'src/main.ts'])).toEqual(['/usr/local/bin/bun', 'src/main.ts']);
  });

  test('a compiled binary: only the user\'s arguments (its embedded entry point is not one)', () => {
    expect(restartArgs('./switchboard', [], ['bun', '/$bunfs/root/switchboard', '-c', 'config.yaml'])).toEqual(['./switchboard', '-c', 'config.yaml']);
    expect(restartArgs('switchboard.exe', [], ['bun', 'B:/~BUN/root/switchboard.exe', '--port', '0'])).toEqual(['switchboard.exe', '--port', '0']);
  });
});
