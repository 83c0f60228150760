/**
 * @module hub/claude-models
 * What a Claude model name says about the model: its version, read from `claude-{family}-{major}-{minor}` or
 * `claude-{major}-{minor}-{family}` (a date suffix is not a minor version).
 */

export function claudeVersion(model: string): { major: number; minor: number } | null {
  const m = model.toLowerCase();
  const ver = /claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d+))?/.exec(m) ?? /claude-(\d+)(?:-(\d+))?-(?:opus|sonnet|haiku)/.exec(m);
  if (!ver) return null;
  return { major: Number(ver[1]), minor: ver[2] && ver[2].length <= 2 ? Number(ver[2]) : 0 };
}

/**
 * Whether a model takes effort `xhigh` (Claude Opus 4.7 brought it; 4.6 answers "does not support effort level
 * 'xhigh'. Supported levels: high, low, max, medium"). A name that is not a versioned Claude name is assumed current.
 */
export function takesXhighEffort(model: string): boolean {
  const v = claudeVersion(model);
  return v === null || v.major > 4 || (v.major === 4 && v.minor >= 7);
}
