/** @module version — replaced at compile time by scripts/build.ts (`define`); the package version in development. */
declare const SWITCHBOARD_VERSION: string | undefined;
export const VERSION: string = typeof SWITCHBOARD_VERSION === 'string' ? SWITCHBOARD_VERSION : '0.1.0-dev';
